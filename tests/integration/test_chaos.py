"""
Run once, under a nemesis (issue 12): the short version of tests/chaos.

Clients schedule commands, webhooks, futures and done-callbacks while the
daemon is frozen and killed with SIGKILL at random moments, five times;
the checker then finds nothing acknowledged lost, no command run twice,
nothing run that the store does not hold, webhooks re-sent with the same
webhook-id and body, futures' results kept and loop time never going back.
`make chaos CYCLES=200` runs the long one.
"""
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))

import chaos  # noqa: E402


class ChaosTest(unittest.TestCase):
    def test_kill_9_under_load_loses_nothing_and_runs_nothing_twice(self):
        seed = random.randrange(1 << 30)
        lines = []
        row, violations = chaos.run(cycles=5, seed=seed, load=1.2,
                                    log=lines.append)
        self.assertEqual(violations, [], "seed %d:\n%s" % (seed, "\n".join(lines)))
        self.assertGreater(row["acknowledged"], 100, row)
        self.assertEqual((row["lost"], row["duplicated"]), (0, 0), row)


if __name__ == "__main__":
    unittest.main()
