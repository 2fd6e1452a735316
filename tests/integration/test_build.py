"""Build hygiene: plain `make` installs only what building needs, the test
tools come with the test targets only, and no install may start a service
(scripts/deps, run here against stand-ins for dpkg-query and apt-get on a
machine where nothing is installed)."""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = os.path.join(ROOT, "scripts", "deps")

# Packages that only the tests use; building must never install them.
TEST_ONLY = {"prometheus", "clang", "libclang-rt-14-dev", "valgrind",
             "openssl", "python3", "curl"}

STUB_DPKG_QUERY = "#!/bin/sh\nexit 1\n"     # nothing is installed
# apt-get records its arguments, and whether a policy-rc.d that refuses
# to start services (exit 101) is in place while it installs.
STUB_APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$STUB_LOG"
if [ "$1" = install ]; then
	if [ -x "$LOOPD_POLICY_RC_D" ]; then "$LOOPD_POLICY_RC_D"
		echo "policy-rc.d $?" >> "$STUB_LOG"
	else echo "policy-rc.d none" >> "$STUB_LOG"; fi
fi
exit 0
"""
STUB_SUDO = '#!/bin/sh\nexec "$@"\n'


def listed(step):
    r = subprocess.run([DEPS, "--list", step], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return set(r.stdout.split())


class DepsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loopd-it-deps-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        for name, text in (("dpkg-query", STUB_DPKG_QUERY),
                           ("apt-get", STUB_APT_GET), ("sudo", STUB_SUDO)):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, stat.S_IRWXU)
        self.log = os.path.join(self.tmp, "log")
        self.policy = os.path.join(self.tmp, "policy-rc.d")
        self.env = dict(os.environ, PATH=self.bin + ":" + os.environ["PATH"],
                        STUB_LOG=self.log, LOOPD_POLICY_RC_D=self.policy,
                        LOOPD_TOOLS=os.path.join(self.tmp, "tools"))

    def installed(self):
        """The packages apt-get was asked to install, and the policy-rc.d
        answers seen while it did."""
        pkgs, policy = set(), []
        with open(self.log) as f:
            for line in f:
                words = line.split()
                if words[:2] == ["apt-get", "install"]:
                    pkgs |= {w for w in words[2:] if not w.startswith("-")}
                elif words[0] == "policy-rc.d":
                    policy.append(words[1])
        return pkgs, policy

    def test_lists(self):
        build, test = listed("build"), listed("test")
        self.assertEqual(build & TEST_ONLY, set(), "test tools in the build list")
        self.assertIn("libevent-dev", build)
        self.assertLessEqual(build, test)
        self.assertLessEqual(TEST_ONLY - {"prometheus"}, test)
        self.assertNotIn("prometheus", test, "the package would start a server")

    def test_plain_make_installs_only_build_packages(self):
        # The parse-time dependency step of `make`, without building.
        r = subprocess.run(["make", "-n", "-C", ROOT, "all"], env=self.env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        pkgs, policy = self.installed()
        self.assertEqual(pkgs, listed("build"))
        self.assertEqual(pkgs & TEST_ONLY, set())
        self.assertEqual(policy, ["101"], "services may not start")
        self.assertFalse(os.path.exists(self.policy), "policy-rc.d left behind")

    def test_test_step_installs_tools_with_services_prevented(self):
        r = subprocess.run([DEPS, "test"], env=self.env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        pkgs, policy = self.installed()
        self.assertEqual(pkgs, listed("test"))
        self.assertEqual(policy, ["101"])
        self.assertFalse(os.path.exists(self.policy))

    def test_existing_policy_is_kept(self):
        with open(self.policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(self.policy, stat.S_IRWXU)
        r = subprocess.run([DEPS, "build"], env=self.env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.policy), "someone else's file")


if __name__ == "__main__":
    unittest.main()
