"""
`loopctl cron next SPEC`: a schedule spec's next fire times, offline.

No daemon: the command parses the spec with loopd's own parser and reads
the system's zone files (or TZDIR). Fire times are checked against the
daylight-saving rule of API.md section 10 and, for the local times shown,
against Python's zoneinfo reading the same zone files.
"""
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import zoneinfo

from harness import LOOPCTL

FROM_SPRING = "2027-03-26T12:00:00Z"    # Berlin springs forward 2027-03-28
FROM_FALL = "2026-11-01T03:30:00Z"      # New York falls back 2026-11-01


def utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class CronNextTest(unittest.TestCase):
    def run_ctl(self, *args, expect=0, env=None):
        e = dict(os.environ)
        # Nothing listens there: the command must not need the daemon.
        e["LOOP_URL"] = "http://127.0.0.1:9"
        e.pop("TZDIR", None)
        e.update(env or {})
        p = subprocess.run([LOOPCTL] + list(args), capture_output=True,
                           text=True, timeout=30, env=e)
        self.assertEqual(p.returncode, expect,
                         "loopctl %s\nstdout: %r\nstderr: %r"
                         % (" ".join(args), p.stdout, p.stderr))
        return p

    def fires(self, *args, env=None):
        p = self.run_ctl("--json", "cron", "next", *args, env=env)
        return json.loads(p.stdout)

    def test_spring_gap_fires_once_at_the_end(self):
        got = self.fires("30 2 * * *", "--tz", "Europe/Berlin", "-n", "3",
                         "--from", FROM_SPRING)
        self.assertEqual([f["local"] for f in got],
                         ["2027-03-27T02:30:00+01:00",
                          "2027-03-28T03:00:00+02:00",
                          "2027-03-29T02:30:00+02:00"])
        self.assertEqual([f["utc"] for f in got],
                         ["2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z",
                          "2027-03-29T00:30:00Z"])
        self.assertEqual(got[1]["unix"],
                         utc("2027-03-28T01:00:00Z").timestamp())
        self.assertEqual([f["abbr"] for f in got], ["CET", "CEST", "CEST"])

    def test_spring_gap_skip(self):
        got = self.fires("30 2 * * *", "--tz", "Europe/Berlin", "-n", "2",
                         "--from", FROM_SPRING, "--skip-gap")
        self.assertEqual([f["local"][:10] for f in got],
                         ["2027-03-27", "2027-03-29"])

    def test_fall_overlap_fixed_and_wild_hours(self):
        # Fixed hour: 01:30 once, at its first pass (EDT).
        got = self.fires("--cron", "30 1 * * *", "--tz", "America/New_York",
                         "-n", "2", "--from", FROM_FALL)
        self.assertEqual([f["local"] for f in got],
                         ["2026-11-01T01:30:00-04:00",
                          "2026-11-02T01:30:00-05:00"])
        # Wild hour: every hour of real time, both passes of 01:00.
        got = self.fires("--calendar", "hourly", "--tz", "America/New_York",
                         "-n", "5", "--from", FROM_FALL)
        times = [f["unix"] for f in got]
        self.assertEqual([b - a for a, b in zip(times, times[1:])],
                         [3600] * 4)
        self.assertEqual([f["local"][11:] for f in got],
                         ["00:00:00-04:00", "01:00:00-04:00",
                          "01:00:00-05:00", "02:00:00-05:00",
                          "03:00:00-05:00"])

    def test_local_times_agree_with_zoneinfo(self):
        for zone, spec in (("Australia/Lord_Howe", "*/30 * * * *"),
                           ("America/Havana", "0 0,1 * * *"),
                           ("Asia/Beirut", "0 23,0 * * *"),
                           ("Pacific/Apia", "0 12 * * *"),
                           ("America/Asuncion", "@daily")):
            got = self.fires(spec, "--tz", zone, "-n", "200",
                             "--from", "2026-01-01T00:00:00Z")
            self.assertEqual(len(got), 200)
            z = zoneinfo.ZoneInfo(zone)
            for f in got:
                local = datetime.datetime.fromtimestamp(f["unix"], z)
                self.assertEqual(f["local"], local.isoformat(), (zone, f))
                self.assertEqual(f["abbr"], local.tzname(), (zone, f))
            self.assertEqual(sorted(f["unix"] for f in got),
                             [f["unix"] for f in got])
            self.assertEqual(len({f["unix"] for f in got}), 200)

    def test_human_output(self):
        p = self.run_ctl("cron", "next", "Mon *-*-01..07 09:00", "--tz",
                         "Europe/Berlin", "-n", "2", "--from",
                         "2026-03-01T00:00:00Z")
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("calendar Mon *-*-01..07 09:00 ("))
        self.assertIn("Europe/Berlin", lines[1])
        self.assertEqual(lines[2].split(), [
            "Mon", "2026-03-02", "09:00:00", "CET", "Mon", "2026-03-02",
            "08:00:00", "UTC", str(int(utc("2026-03-02T08:00:00Z")
                                       .timestamp()))])
        self.assertIn("CEST", lines[3])
        self.assertEqual(len(lines), 4)

    def test_every_and_guessing(self):
        got = self.fires("1.5 @100", "-n", "2", "--from", "100")
        self.assertEqual([f["unix"] for f in got], [101.5, 103.0])
        self.assertEqual(got[0]["utc"], "1970-01-01T00:01:41.5Z")
        p = self.run_ctl("cron", "next", "30s", "-n", "1")
        self.assertTrue(p.stdout.startswith("every 30s"))
        p = self.run_ctl("cron", "next", "30", "2", "*", "*", "*", "-n", "1")
        self.assertTrue(p.stdout.startswith("cron 30 2 * * *"))
        p = self.run_ctl("cron", "next", "daily", "-n", "1")
        self.assertTrue(p.stdout.startswith("calendar daily"))
        got = self.fires("--every", "1h", "-n", "2", "--tz", "Asia/Tehran",
                         "--from", "0")
        self.assertEqual([f["unix"] for f in got], [3600, 7200])

    def test_errors(self):
        p = self.run_ctl("cron", "next", "0 0 32 * *", expect=2)
        self.assertIn("cron: field 3 (day-of-month): 32 out of range 1-31",
                      p.stderr)
        p = self.run_ctl("cron", "next", "--cron", "0 0 30 2 *", expect=2)
        self.assertIn("never fires", p.stderr)
        p = self.run_ctl("cron", "next", "--calendar", "*-*-* 25:00",
                         expect=2)
        self.assertIn("calendar: hour (column 7): 25 out of range 0-23",
                      p.stderr)
        p = self.run_ctl("cron", "next", "daily", "--tz", "Mars/Base",
                         expect=2)
        self.assertIn("unknown time zone: Mars/Base", p.stderr)
        p = self.run_ctl("cron", "next", "daily", "--tz", "../../etc/passwd",
                         expect=2)
        self.assertIn("invalid time zone name", p.stderr)
        self.run_ctl("cron", "next", "daily", "-n", "0", expect=2)
        self.run_ctl("cron", "next", "daily", "--from", "soon", expect=2)
        self.run_ctl("cron", "next", expect=2)
        p = self.run_ctl("cron", "next", "2020-01-01", expect=1)
        self.assertIn("never fires again", p.stderr)

    @unittest.skipUnless(shutil.which("systemd-analyze"),
                         "systemd-analyze is not installed")
    def test_calendar_agrees_with_systemd(self):
        """The calendar subset means what systemd means (in UTC, where
        daylight saving plays no part)."""
        specs = ["Mon *-*-01..07 09:00", "*-*~01 18:00", "Mon *-05~07/1 10:00",
                 "*-02~03", "Sat..Sun 12:00", "Mon..Fri 08:30", "Fri *-*-13",
                 "quarterly", "semiannually", "weekly", "monthly", "yearly",
                 "daily", "hourly", "*-*-* 00/2:15:30",
                 "2027..2029/2-06-15 12:00", "12-25", "*:0/20",
                 "*-*-* 10:00:00/20", "Wed,Fri *-1,7-1..10 3:4:5",
                 "*-*-1/10 12:00", "*-*~07/1 06:00", "Thu 2028-*-* 23:59:59",
                 "*-02-29 00:00", "Mon *-02-29"]
        n = 8
        for spec in specs:
            for attempt in range(3):
                t0 = int(datetime.datetime.now().timestamp())
                p = subprocess.run(
                    ["systemd-analyze", "calendar", "--iterations=%d" % n,
                     spec], capture_output=True, text=True, timeout=30,
                    env=dict(os.environ, TZ="UTC"))
                self.assertEqual(p.returncode, 0, (spec, p.stderr))
                want = [line.split(": ", 1)[1].strip()
                        for line in p.stdout.splitlines()
                        if line.strip().startswith(("Next elapse:",
                                                    "Iter. #"))]
                got = self.fires("--calendar", spec, "-n", str(n),
                                 "--from", str(t0))
                got = [utc(f["utc"]).strftime("%a %Y-%m-%d %H:%M:%S UTC")
                       for f in got]
                # A fire between t0 and systemd's own "now": ask again.
                if got == want or got[1:] == want[:-1]:
                    break
            self.assertTrue(want, (spec, p.stdout))
            self.assertEqual(got, want, spec)

    def test_tzdir(self):
        root = tempfile.mkdtemp(prefix="test_cron_next.")
        try:
            os.makedirs(os.path.join(root, "Test"))
            shutil.copy("/usr/share/zoneinfo/Europe/Berlin",
                        os.path.join(root, "Test", "Zone"))
            got = self.fires("30 2 * * *", "--tz", "Test/Zone", "-n", "2",
                             "--from", FROM_SPRING, env={"TZDIR": root})
            self.assertEqual(got[1]["local"], "2027-03-28T03:00:00+02:00")
            p = self.run_ctl("cron", "next", "daily", "--tz", "Europe/Berlin",
                             expect=2, env={"TZDIR": root})
            self.assertIn("unknown time zone", p.stderr)
        finally:
            shutil.rmtree(root)


if __name__ == "__main__":
    unittest.main()
