"""make install puts everything where a system expects it, the installed
config passes `loopd -n`, and the installed unit names the installed
paths."""

import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class InstallTest(unittest.TestCase):

    def test_make_install(self):
        dest = tempfile.mkdtemp(prefix="loopd-it-install-")
        try:
            # The plain build (a sanitizer run's objects stay as they are).
            r = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = ["usr/bin/loopd", "usr/bin/loopctl", "etc/loopd/loopd.conf",
                    "lib/systemd/system/loopd.service", "lib/systemd/system/loopd.socket",
                    "usr/lib/sysusers.d/loopd.conf", "usr/lib/tmpfiles.d/loopd.conf",
                    "usr/libexec/loopd/loopd-reload", "usr/share/man/man8/loopd.8",
                    "usr/share/man/man1/loopctl.1",
                    "usr/share/bash-completion/completions/loopctl"]
            for w in want:
                self.assertTrue(os.path.isfile(os.path.join(dest, w)), w)
            for exe in ["usr/bin/loopd", "usr/bin/loopctl", "usr/libexec/loopd/loopd-reload"]:
                self.assertTrue(os.access(os.path.join(dest, exe), os.X_OK), exe)
            with open(os.path.join(dest, "lib/systemd/system/loopd.service")) as f:
                unit = f.read()
            self.assertIn("ExecStart=/usr/bin/loopd --config /etc/loopd/loopd.conf", unit)
            self.assertIn("ExecReload=/usr/libexec/loopd/loopd-reload $MAINPID", unit)
            self.assertNotIn("/usr/local", unit)
            state = os.path.join(dest, "state")
            r = subprocess.run([os.path.join(dest, "usr/bin/loopd"), "-n", "-c",
                                os.path.join(dest, "etc/loopd/loopd.conf"), "-s", state],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = subprocess.run(["bash", "-n", os.path.join(
                dest, "usr/share/bash-completion/completions/loopctl")],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            # The completion offers the commands.
            r = subprocess.run(["bash", "-c",
                                'source "$1"; COMP_WORDS=(loopctl sch); COMP_CWORD=1; '
                                '_loopctl; echo "${COMPREPLY[@]}"', "bash",
                                os.path.join(dest, "usr/share/bash-completion/completions/loopctl")],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.stdout.split(), ["schedule"], r.stderr)
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def test_prefix_for_units_and_uninstall(self):
        dest = tempfile.mkdtemp(prefix="loopd-it-install-")
        try:
            r = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest,
                                "PREFIX=/usr/local"], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            for w in ["usr/local/lib/systemd/system/loopd.service",
                      "usr/local/lib/systemd/system/loopd.socket",
                      "usr/local/lib/sysusers.d/loopd.conf",
                      "usr/local/lib/tmpfiles.d/loopd.conf",
                      "usr/local/lib/systemd/user/loopd.service",
                      "usr/local/lib/systemd/user/loopd.socket"]:
                self.assertTrue(os.path.isfile(os.path.join(dest, w)), w)
            with open(os.path.join(dest, "usr/local/lib/systemd/user/loopd.service")) as f:
                self.assertIn("ExecStart=/usr/local/bin/loopd ", f.read())
            self.assertFalse(os.path.exists(os.path.join(dest, "lib")),
                             "nothing outside PREFIX but /etc")
            r = subprocess.run(["make", "-s", "uninstall", "DESTDIR=" + dest,
                                "PREFIX=/usr/local"], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
            self.assertEqual(left, [])
        finally:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
