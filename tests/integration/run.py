#!/usr/bin/env python3
"""
run.py: run loopd's integration tests.

    python3 tests/integration/run.py [-v] [NAME...]

    python3 tests/integration/run.py -j N ...     N classes at a time

With no NAME, every tests/integration/test_*.py runs. A NAME is a file stem
(`test_calls`, `calls`, `test_calls.py`) or a substring of a test id
(`CallsTest`, `CallsTest.test_timeout`, `test_timeout`). One daemon per
TestCase class. With -j N (default: INTEGRATION_JOBS, else 4) N worker
processes run the TestCase classes side by side, the longest first (by the
times of the last run, kept in build/integration-times.json), each class's
tests one after the other in one worker; every test has its own temporary
directory and its daemons listen on ports the kernel picks, so classes do
not meet. -j 1 runs everything in this process, in file order. Each failure
is printed with the tail of the log of every daemon of its worker running at
that moment (with -j 1 as it happens, else when its class ends). The last
line is `integration: N passed, N failed`; the exit status is 1 if anything
failed. LOOPD and LOOPCTL name the binaries (default build/).
"""
import faulthandler
import glob
import importlib
import io
import json
import os
import select as select_mod
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

OVERALL_TIMEOUT = float(os.environ.get("INTEGRATION_TIMEOUT", "600"))
JOBS = int(os.environ.get("INTEGRATION_JOBS", "4"))
# Seconds each class took last time (the order of a parallel run).
TIMES = os.path.join(harness.ROOT, "build", "integration-times.json")


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


def classes(tests):
    """The tests grouped by class, in order: [(class id, [test id])]."""
    out = {}
    for t in tests:
        out.setdefault(t.id().rsplit(".", 1)[0], []).append(t.id())
    return list(out.items())


def load_times():
    """{class id: seconds} of the last run, or {}."""
    try:
        with open(TIMES) as f:
            return {k: float(v) for k, v in json.load(f).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def save_times(times):
    """Keep this run's class times for the next run's order."""
    old = load_times()
    old.update(times)
    try:
        os.makedirs(os.path.dirname(TIMES), exist_ok=True)
        with open(TIMES + ".tmp", "w") as f:
            json.dump(old, f, indent=0, sort_keys=True)
        os.replace(TIMES + ".tmp", TIMES)
    except OSError:
        pass


def worker(cmd_fd, out_fd, verbose):
    """A worker process: run the classes whose test ids arrive on cmd_fd
    (one JSON list a line), answer one JSON object a line on out_fd."""
    for fd in (cmd_fd, out_fd):
        os.set_inheritable(fd, False)
    cmds = os.fdopen(cmd_fd, "r")
    out = os.fdopen(out_fd, "w")
    real = sys.stdout

    def stop(signum, frame):
        # The parent's time limit: say where we were (straight to the file
        # descriptor: the signal may have come in the middle of a write),
        # stop our daemons, end.
        try:
            os.write(1, ("\nrun.py: worker %d stopped at the suite's time "
                         "limit:\n" % os.getpid()).encode())
            faulthandler.dump_traceback(file=1, all_threads=True)
            os.write(1, (daemon_logs() + "\n").encode())
            for d in list(harness.LIVE):
                try:
                    d.kill()
                    if not harness.KEEP:
                        shutil.rmtree(d.dir, ignore_errors=True)
                except Exception:
                    pass
        finally:
            os._exit(1)
    signal.signal(signal.SIGTERM, stop)
    loader = unittest.TestLoader()
    for line in cmds:
        ids = json.loads(line)
        result = Result(verbose)
        buf = io.StringIO()
        sys.stdout = buf
        t0 = time.monotonic()
        try:
            suite = unittest.TestSuite()
            for i in ids:
                suite.addTests(flatten(loader.loadTestsFromName(i)))
            suite.run(result)
        except Exception:
            result.failed["worker " + ids[0]] = traceback.format_exc()
        finally:
            sys.stdout = real
            for d in list(harness.LIVE):
                d.close(check=False)
        out.write(json.dumps({
            "passed": sorted(result.passed), "failed": result.failed,
            "skipped": sorted(result.skipped_ids), "text": buf.getvalue(),
            "took": time.monotonic() - t0}) + "\n")
        out.flush()
    return 0


class Worker:
    """A worker process and the class it runs."""

    def __init__(self, verbose):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        args = [sys.executable, os.path.abspath(__file__),
                "--worker=%d,%d" % (cmd_r, out_w)] + (["-v"] if verbose else [])
        self.proc = subprocess.Popen(args, pass_fds=(cmd_r, out_w),
                                     stdin=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self.cmds = os.fdopen(self.cmd_w, "w")
        self.answers = os.fdopen(self.out_r, "r")
        self.unit = None

    def give(self, unit):
        self.unit = unit
        self.cmds.write(json.dumps(unit[1]) + "\n")
        self.cmds.flush()

    def done(self):
        """No more classes: let it end."""
        self.cmds.close()


def run_parallel(tests, jobs, result):
    """Run the tests' classes on `jobs` worker processes, longest first;
    fill result as run by one process would."""
    units = classes(tests)
    last = load_times()
    # Longest first; a class never timed counts a second.
    units.sort(key=lambda u: -last.get(u[0], 1.0))
    todo = list(units)
    workers = [Worker(result.verbose) for _ in range(min(jobs, len(units)))]
    for w in workers:
        w.give(todo.pop(0))
    times = {}
    deadline = time.monotonic() + OVERALL_TIMEOUT
    busy = list(workers)

    def lost(w, why):
        for i in w.unit[1]:
            result.failed[i] = "%s: %s\n" % (i, why)
        sys.stdout.write("\n%s: %s\n" % (w.unit[0], why))

    while busy:
        left = deadline - time.monotonic()
        by_fd = {w.answers.fileno(): w for w in busy}
        ready = [by_fd[fd] for fd in
                 select_mod.select(list(by_fd), [], [], max(left, 0))[0]]
        if not ready:
            sys.stdout.write("\nrun.py: the suite took longer than %gs; stopping.\n"
                             % OVERALL_TIMEOUT)
            sys.stdout.flush()
            for w in busy:
                w.proc.send_signal(signal.SIGTERM)
            for w in busy:
                try:
                    w.proc.wait(30)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                lost(w, "did not finish within the suite's time limit")
            for unit in todo:
                for i in unit[1]:
                    result.failed[i] = "%s: did not run (time limit)\n" % i
            break
        for w in ready:
            line = w.answers.readline()
            if not line:
                busy.remove(w)
                lost(w, "its worker died (exit status %s)" % w.proc.wait())
                if todo and not busy:
                    busy.append(Worker(result.verbose))
                    workers.append(busy[-1])
                    busy[-1].give(todo.pop(0))
                continue
            got = json.loads(line)
            sys.stdout.write(got["text"])
            sys.stdout.flush()
            result.passed.update(got["passed"])
            result.failed.update(got["failed"])
            result.skipped_ids.update(got["skipped"])
            times[w.unit[0]] = round(got["took"], 2)
            if todo:
                w.give(todo.pop(0))
            else:
                w.done()
                busy.remove(w)
    for w in workers:
        try:
            w.cmds.close()
        except OSError:
            pass
        try:
            w.proc.wait(30)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
    save_times(times)


def main(argv):
    verbose = False
    names = []
    jobs = JOBS
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("--worker="):
            cmd_fd, out_fd = a.split("=", 1)[1].split(",")
            return worker(int(cmd_fd), int(out_fd), "-v" in args)
        elif a in ("-j", "--jobs") and args:
            jobs = int(args.pop(0))
        elif a.startswith("-j") and a[2:].isdigit():
            jobs = int(a[2:])
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
    t0 = time.monotonic()
    if jobs > 1 and len(classes(tests)) > 1:
        run_parallel(tests, jobs, result)
    else:
        timer = threading.Timer(OVERALL_TIMEOUT, watchdog, args=(result,))
        timer.daemon = True
        timer.start()
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
