"""GET /metrics: Prometheus text that promtool accepts, with figures that
follow what the daemon did."""

import re
import shutil
import subprocess
import unittest

from harness import Daemon, sh


def sample(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


class MetricsTest(unittest.TestCase):

    def test_metrics_follow_activity_and_pass_promtool(self):
        with Daemon() as d:
            ok = [d.schedule({"soon": True, "command": sh("true")})["id"] for _ in range(3)]
            bad = d.schedule({"soon": True, "command": sh("exit 2")})["id"]
            later = d.schedule({"after": 3600, "command": sh("true")})["id"]
            gone = d.schedule({"after": 3600, "command": sh("true")})["id"]
            d.request("DELETE", "/v1/calls/" + gone)
            d.request("POST", "/v1/futures")
            for i in ok + [bad]:
                d.wait_done(i)
            d.request("GET", "/v1/calls/c_ffffffffffffffff")   # a 404
            r = d.request("GET", "/metrics")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
            m = r.body
            self.assertEqual(sample(m, "loopd_calls_scheduled_total"), 6)
            self.assertEqual(sample(m, "loopd_calls_started_total"), 4)
            self.assertEqual(sample(m, "loopd_calls_finished_total", '{outcome="result"}'), 3)
            self.assertEqual(sample(m, "loopd_calls_finished_total", '{outcome="exception"}'), 1)
            self.assertEqual(sample(m, "loopd_calls_finished_total", '{outcome="cancelled"}'), 1)
            self.assertEqual(sample(m, "loopd_call_lateness_seconds_count"), 4)
            self.assertEqual(sample(m, "loopd_call_lateness_seconds_bucket", '{le="+Inf"}'), 4)
            self.assertEqual(sample(m, "loopd_pending_calls"), 1)
            self.assertEqual(sample(m, "loopd_pending_futures"), 1)
            self.assertEqual(sample(m, "loopd_store_writable"), 1)
            self.assertEqual(sample(m, "loopd_http_requests_total",
                                    '{route="/v1/calls",method="POST",code="201"}'), 6)
            self.assertEqual(sample(m, "loopd_http_requests_total",
                                    '{route="/v1/calls/*",method="GET",code="404"}'), 1)
            self.assertIsNotNone(later)
            if shutil.which("promtool") is None:
                self.skipTest("promtool not installed (scripts/deps installs prometheus)")
            p = subprocess.run(["promtool", "check", "metrics"], input=m,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
