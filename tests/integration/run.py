#!/usr/bin/env python3
"""
run.py: run loopd's integration tests.

    python3 tests/integration/run.py [-v] [NAME...]

With no NAME, every tests/integration/test_*.py runs. A NAME is a file stem
(`test_calls`, `calls`, `test_calls.py`) or a substring of a test id
(`CallsTest`, `CallsTest.test_timeout`, `test_timeout`). Tests run one after
the other, one daemon per TestCase class. Each failure is printed as it
happens, with the tail of the log of every daemon running at that moment.
The last line is `integration: N passed, N failed`; the exit status is 1 if
anything failed. LOOPD and LOOPCTL name the binaries (default build/).
"""
import faulthandler
import glob
import importlib
import os
import shutil
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

OVERALL_TIMEOUT = float(os.environ.get("INTEGRATION_TIMEOUT", "600"))


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def daemon_logs():
    out = []
    for d in list(harness.LIVE):
        out.append("  log of loopd on port %s (%s):\n%s"
                   % (d.port, d.dir, d.log_tail(25)))
    return "\n".join(out)


class Result(unittest.TestResult):
    def __init__(self, verbose):
        super().__init__()
        self.verbose = verbose
        self.passed = set()
        self.failed = {}          # name -> text
        self.skipped_ids = set()
        self.started = {}
        self.silent = False

    def _name(self, test):
        return test.id() if hasattr(test, "id") else str(test)

    def _fail(self, test, err, kind, sub=None):
        if self.silent:
            return
        name = self._name(test)
        text = "".join(traceback.format_exception(*err)) \
            if isinstance(err, tuple) else str(err)
        logs = daemon_logs()
        label = name if sub is None else "%s %s" % (name, sub._subDescription())
        report = "%s: %s\n%s%s" % (kind, label, text,
                                   ("\n" + logs + "\n") if logs else "")
        self.failed[name] = self.failed.get(name, "") + report
        sys.stdout.write("\n" + "=" * 70 + "\n" + report + "-" * 70 + "\n")
        sys.stdout.flush()

    def startTest(self, test):
        super().startTest(test)
        self.started[self._name(test)] = time.monotonic()
        if self.verbose:
            sys.stdout.write("%s ... " % self._name(test))
            sys.stdout.flush()

    def stopTest(self, test):
        super().stopTest(test)
        if self.silent:
            return
        name = self._name(test)
        if self.verbose:
            took = time.monotonic() - self.started.get(name, time.monotonic())
            status = "FAIL" if name in self.failed else (
                "skip" if name in self.skipped_ids else "ok")
            sys.stdout.write("%s (%.2fs)\n" % (status, took))
        elif name in self.failed:
            pass
        else:
            sys.stdout.write(".")
        sys.stdout.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.add(self._name(test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, "ERROR")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test, err, "FAIL", sub=subtest)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_ids.add(self._name(test))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed.add(self._name(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._fail(test, "unexpected success", "FAIL")


def select(names):
    """The tests to run, in file and class order."""
    files = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    stems = [os.path.basename(f)[:-3] for f in files]
    whole, subs = set(), []
    for n in names:
        s = os.path.basename(n)
        if s.endswith(".py"):
            s = s[:-3]
        if s in stems:
            whole.add(s)
        elif "test_" + s in stems:
            whole.add("test_" + s)
        else:
            subs.append(n)
    loader = unittest.TestLoader()
    tests, broken = [], []
    for stem in stems:
        if names and stem not in whole and not subs:
            continue
        try:
            mod = importlib.import_module(stem)
        except Exception:
            broken.append((stem, traceback.format_exc()))
            continue
        for t in flatten(loader.loadTestsFromModule(mod)):
            if not names or stem in whole or any(s in t.id() for s in subs):
                tests.append(t)
    return tests, broken


def watchdog(result):
    result.silent = True        # the main thread's tests fail from here on
    sys.stdout.write("\nrun.py: the suite took longer than %gs; stopping.\n"
                     % OVERALL_TIMEOUT)
    faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
    sys.stdout.write(daemon_logs() + "\n")
    passed = len(result.passed - set(result.failed))
    failed = max(1, len(result.failed))
    for d in list(harness.LIVE):
        try:
            d.kill()
            if not harness.KEEP:
                shutil.rmtree(d.dir, ignore_errors=True)
        except Exception:
            pass
    sys.stdout.write("integration: %d passed, %d failed\n" % (passed, failed))
    sys.stdout.flush()
    os._exit(1)


def main(argv):
    verbose = False
    names = []
    for a in argv:
        if a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            names.append(a)
    tests, broken = select(names)
    if names and not tests and not broken:
        print("run.py: no test matches %s" % " ".join(names))
        return 2
    result = Result(verbose)
    for stem, text in broken:
        result.failed["import " + stem] = text
        print("ERROR: cannot import %s\n%s" % (stem, text))
    timer = threading.Timer(OVERALL_TIMEOUT, watchdog, args=(result,))
    timer.daemon = True
    timer.start()
    t0 = time.monotonic()
    try:
        unittest.TestSuite(tests).run(result)
    finally:
        timer.cancel()
        if result.silent:
            # The watchdog is cleaning up and will end the process.
            time.sleep(OVERALL_TIMEOUT)
        for d in list(harness.LIVE):
            d.close(check=False)
    sys.stdout.write("\n")
    ids = [t.id() for t in tests]
    passed = [i for i in ids if i in result.passed and i not in result.failed]
    skipped = [i for i in ids if i in result.skipped_ids
               and i not in result.failed]
    # A test that never reported (its class failed to set up) failed.
    failed = [i for i in ids if i not in passed and i not in skipped]
    # Failures outside tests: setUpClass/tearDownClass, imports.
    # (A class that failed to set up is already counted through its tests.)
    extra = [k for k in result.failed if k not in ids and not
             k.startswith(("setUpClass ", "setUpModule "))]
    for i in failed:
        if i not in result.failed:
            result.failed[i] = "did not run (its class or module failed to " \
                               "set up)\n"
    nfailed = len(failed) + len(extra)
    if failed or extra:
        print("failures:")
        for k in list(failed) + extra:
            print("  " + k)
    if skipped:
        print("%d skipped" % len(skipped))
    print("(%.1fs)" % (time.monotonic() - t0))
    print("integration: %d passed, %d failed" % (len(passed), nfailed))
    return 1 if nfailed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
