"""luat-at driven over its pty with pyserial, as a host MCU would.
Usage: python3 test_at.py [TestClass ...]   (ctest runs one class per test)"""
import http.client
import http.server
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import serial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atlib  # noqa: E402
from atlib import Module  # noqa: E402


# docs/at.md's END codes of the FAIL reasons
END = {"connect": 110, "timeout": 111, "closed": 112, "receive": 113, "bad_header": 114, "bad_body": 115,
       "url": 116, "http_404": 117, "not_a_package": 120, "too_large": 121, "truncated": 122,
       "bad_magic": 130, "bad_version": 131, "bad_section": 132, "hash_mismatch": 133, "bad_signature": 134,
       "no_signature": 135, "wrong_base": 136, "rollback": 137, "bad_meta": 138, "io": 139}


class Base(unittest.TestCase):
    def ended(self, m, code, timeout=10, quiet=0.3):
        """The check's final URC: END with the documented code, the only END
        since the check's START (or the boot's RDY), and none after it
        unless a new check starts."""
        line = m.wait(r'^\+UPGRADE: "END",', timeout)
        self.assertEqual(line, '+UPGRADE: "END",%d' % code, m.lines[-12:])
        at = len(m.lines) - len(m.pending) - 1
        start = max(i for i in range(at) if m.lines[i] in ('+UPGRADE: "START"', "RDY"))
        if m.lines[start] == "RDY":   # END after UPDATED/ROLLBACK: the check began before the reboot
            start = max([i for i in range(start) if m.lines[i] == '+UPGRADE: "START"'] + [0])
        self.assertEqual([x for x in m.lines[start:at] if x.startswith('+UPGRADE: "END"')], [], m.lines[start:at])
        end = time.time() + quiet
        while time.time() < end:
            m._pump(0.01)
        after = m.lines[at + 1:]
        first_start = next((i for i, x in enumerate(after) if x == '+UPGRADE: "START"'), len(after))
        self.assertEqual([x for x in after[:first_start] if x.startswith('+UPGRADE: "END"')], [], after)
        return line

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="luat-at-")
        self.v1015, self.v1016 = atlib.firmware_pair(self.tmp)
        self.key, self.pub = atlib.keygen(self.tmp)
        self.modules = []
        self.cleanups = []

    def tearDown(self):
        for m in self.modules:
            m.close()
        for c in self.cleanups:
            c()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def module(self, name="dev", *args, **kw):
        kw.setdefault("firmware", self.v1015)
        m = Module(os.path.join(self.tmp, name), *args, **kw)
        self.modules.append(m)
        m.sync()
        m.ok("ATE0")
        return m

    def restart(self, m, *args, **kw):
        m.close()
        self.modules.remove(m)
        kw.setdefault("firmware", None)
        return self.module(os.path.basename(m.device), *args, **kw)

    def static(self):
        s = atlib.StaticServer()
        self.cleanups.append(s.close)
        return s

    def fota_server(self, *extra):
        s = atlib.FotaServer(self.tmp)
        self.cleanups.append(s.close)
        return s

    def last_result(self, m):
        """The LAST line of AT+UPGRADE? (a check's URCs may come between its lines)."""
        last = [x for x in m.ok("AT+UPGRADE?") if x.startswith('+UPGRADE: "LAST",')]
        self.assertEqual(len(last), 1)
        return last[0]

    CUT_ETAG = '"v1016-full"'   # cut_at_half's package

    def cut_at_half(self, seed):
        """A module on V1015 fetching a whole V1016 package from a resumable
        URL (atlib.resumable), killed at about half of it (kill -9: the power
        goes). Returns the V1016 image, the package, the server's request
        rows ([Range, If-Range, bytes sent]) and the dead module."""
        v1015, v1016 = atlib.firmware_pair(self.tmp, size=300000, seed=seed)
        pkg = atlib.read(atlib.full_package(os.path.join(self.tmp, "full.bin"), v1016, self.key))
        seen = []
        srv = self.static()
        srv.routes["/dfota.bin"] = atlib.resumable(pkg, self.CUT_ETAG, seen)
        m = self.module(firmware=v1015, trusted=self.pub)
        m.ok('AT+UPGRADE="URL","%s/dfota.bin"' % srv.url)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "DOWNLOAD",50$', 30)
        m.proc.kill()
        m.proc.wait(timeout=10)
        return v1016, pkg, seen, m

    def revision(self, m):
        """The running firmware number, from AT+CGMR (a URC may come between)."""
        found = [re.match(r'\+CGMR: "AirM2M_Air780E_V(\d+)_LTE_AT"$', x) for x in m.ok("AT+CGMR")]
        found = [f.group(1) for f in found if f]
        self.assertEqual(len(found), 1)
        return found[0]


class Commands(Base):
    def test_command_set(self):
        m = self.module()
        self.assertEqual(m.ok("AT"), [])
        info = m.ok("ATI")
        self.assertEqual(info[:2], ["AirM2M", "Air780E"])
        self.assertEqual(self.revision(m), "1015")
        imei = m.ok("AT+CGSN")[0]
        self.assertTrue(re.fullmatch(r"\d{15}", imei), imei)
        digits = [int(c) for c in imei]
        self.assertEqual(sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits)) % 10, 0)
        self.assertEqual(m.ok("AT+CPIN?"), ["+CPIN: READY"])
        self.assertTrue(re.fullmatch(r"\+CSQ: \d+,\d+", m.ok("AT+CSQ")[0]))
        self.assertEqual(m.ok("AT+CREG?"), ["+CREG: 0,1"])
        self.assertEqual(m.ok("AT+CGATT?"), ["+CGATT: 1"])
        self.assertEqual(m.ok("AT+CSQ;+CREG?")[1], "+CREG: 0,1")
        self.assertEqual(m.ok("AT+CFUN?"), ["+CFUN: 1"])

    def test_result_codes_and_cmee(self):
        m = self.module()
        self.assertEqual(m.cmd("AT+NOSUCH")[1], "ERROR")
        self.assertEqual(m.cmd('AT+UPGRADE="PERIOD",x')[1], "ERROR")       # CMEE=0
        m.ok("AT+CMEE=1")
        self.assertEqual(m.ok("AT+CMEE?"), ["+CMEE: 1"])
        self.assertEqual(m.cmd('AT+UPGRADE="PERIOD",x')[1], "+CME ERROR: 50")
        self.assertEqual(m.cmd("AT+CFUN=0")[1], "+CME ERROR: 4")
        self.assertEqual(m.cmd("AT+NOSUCH")[1], "ERROR")                    # unknown stays ERROR
        m.ok("AT+CMEE=2")
        self.assertEqual(m.cmd('AT+UPGRADE="PERIOD",x')[1], "+CME ERROR: incorrect parameters")
        self.assertEqual(m.cmd("AT+CMEE=3")[1], "+CME ERROR: incorrect parameters")
        self.assertEqual(m.ok("AT+CMEE=?"), ["+CMEE: (0-2)"])
        self.assertEqual(m.cmd("AT+CSQ;XYZ")[1], "ERROR")
        m.ok("AT+CMEE=1")
        self.assertEqual(m.cmd("AT+CSQ?")[1], "+CME ERROR: 4")   # a known command in a form it lacks
        self.assertEqual(m.ok("AT+CSQ=?"), [])
        self.assertEqual(m.cmd("AT+NOSUCH=?")[1], "ERROR")

    def test_echo(self):
        m = self.module()
        m.ok("ATE1")
        mark = len(m.lines)
        m.write(b"AT+CSQ\r")
        m.wait("^OK$")
        self.assertEqual(m.lines[mark], "AT+CSQ\r")   # the command line comes back as typed
        m.ok("ATE0")
        mark = len(m.lines)
        m.write(b"AT+CSQ\r")
        m.wait("^OK$")
        self.assertEqual([x for x in m.lines[mark:] if x.startswith("AT")], [])

    def test_framing(self):
        m = self.module()
        # split across reads
        for part in (b"A", b"T+C", b"GM", b"R\r"):
            m.write(part)
            time.sleep(0.05)
        m.wait(r'^\+CGMR: ')
        m.wait("^OK$")
        # several in one write
        m.pending.clear()
        m.write(b"AT\rAT+CSQ\rAT+CPIN?\r")
        m.wait("^OK$")
        m.wait(r"^\+CSQ: ")
        m.wait("^OK$")
        m.wait(r"^\+CPIN: READY$")
        m.wait("^OK$")
        # lower case, mixed case; quoted values keep their case
        self.assertTrue(m.ok("at+cgmr")[0].startswith("+CGMR"))
        m.ok('At+UpGrade="key","MixedCase_1"')
        self.assertIn('+UPGRADE: "KEY","MixedCase_1"', m.ok("at+upgrade?"))
        # backspace edits the line
        self.assertEqual(m.ok(b"AT+CSX\x08Q\r")[0][:5], "+CSQ:")
        self.assertEqual(m.ok(b"ATT\x08\r"), [])
        # an overlong line: one clear error, nothing runs, the port goes on
        m.ok("AT+CMEE=1")
        out, final = m.cmd(b"AT+UPGRADE=\"KEY\",\"" + b"K" * 5000 + b"\"\r")
        self.assertEqual(final, "+CME ERROR: 24")
        self.assertIn('+UPGRADE: "KEY","MixedCase_1"', m.ok("AT+UPGRADE?"))
        # garbage: control bytes, NUL, 8-bit, no "AT": ignored
        rnd = random.Random(7)
        junk = bytes(b for b in (rnd.getrandbits(8) for _ in range(20000)) if b not in b"aAtT\r")
        m.write(junk)
        m.ok(b"\rAT\r")
        m.ok(b"\x00\xff\x1bxyAT+CSQ\r")
        self.assertEqual(m.proc.poll(), None)

    def test_upgrade_command_forms(self):
        m = self.module()
        m.ok("AT+CMEE=1")
        self.assertEqual(m.ok("AT+UPGRADE=?"), ['+UPGRADE: ("KEY","URL","PERIOD"),(0-2592000)'])
        self.assertEqual(m.ok("AT+UPGRADE?"), ['+UPGRADE: "KEY",""', '+UPGRADE: "URL",""',
                                               '+UPGRADE: "PERIOD",86400'])
        for bad in ('AT+UPGRADE="KEY","bad key"', 'AT+UPGRADE="KEY","' + "k" * 65 + '"',
                    'AT+UPGRADE="URL","ftp://x/y"', 'AT+UPGRADE="URL","http://a b"', 'AT+UPGRADE="URL",5',
                    'AT+UPGRADE="PERIOD",2592001', 'AT+UPGRADE="PERIOD","60"', 'AT+UPGRADE="PERIOD"',
                    'AT+UPGRADE="COLOR","red"', 'AT+UPGRADE="KEY","unterminated', 'AT+UPGRADE=1,2,3,4,5',
                    'AT+UPGRADE="PERIOD",99999999999'):
            self.assertEqual(m.cmd(bad)[1], "+CME ERROR: 50", bad)
        self.assertEqual(m.ok("AT+UPGRADE?")[0], '+UPGRADE: "KEY",""')

    def test_url_validated_at_set_time(self):
        m = self.module()
        m.ok("AT+CMEE=1")
        good = ("http://127.0.0.1:8080/x", "https://iot.example.com/api?a=1", "http://[::1]:99/x",
                "###http://h/fixed", "HTTP://host.example/x", "http://1.2.3.4", "http://h:65535/")
        bad = ("http://", "https://", "http:///x", "https://[::1]:99999/x", "http://h:0/x", "http://h:/x",
               "http://999.1.1.1/x", "http://1.2.3/x", "http://[zz::1]/x", "http://[1:2:3]/x",
               "ftp://h/x", "h/x", "http//h/x", "http://user@h/x", "http://h x/", "###", "###ftp://h/x",
               "http://h/" + "p" * 247)
        good += ("http://h/" + "p" * 246,)   # 255 characters: the longest
        for url in good:
            m.ok('AT+UPGRADE="URL","%s"' % url)
            self.assertIn('+UPGRADE: "URL","%s"' % url, m.ok("AT+UPGRADE?"))
        m.ok('AT+UPGRADE="URL","http://kept.example/x"')
        for url in bad:
            self.assertEqual(m.cmd('AT+UPGRADE="URL","%s"' % url)[1], "+CME ERROR: 50", url)
        # control and 8-bit bytes inside a quoted value: refused, not dropped
        for raw in (b'AT+UPGRADE="URL","http://h/a\x01b"\r', b'AT+UPGRADE="URL","http://h/a\nb"\r',
                    b'AT+UPGRADE="URL","http://h/\xe9"\r', b'AT+UPGRADE="KEY","K\x1bEY"\r'):
            self.assertEqual(m.cmd(raw)[1], "+CME ERROR: 50", raw)
        self.assertIn('+UPGRADE: "URL","http://kept.example/x"', m.ok("AT+UPGRADE?"))
        self.assertIn('+UPGRADE: "KEY",""', m.ok("AT+UPGRADE?"))
        m.ok(b'AT+UPGRADE="KEY","A\"\x08B"\r')   # a quote typed and deleted: the line stays good
        self.assertIn('+UPGRADE: "KEY","AB"', m.ok("AT+UPGRADE?"))
        m = self.restart(m)   # and what was kept is what NV holds
        self.assertIn('+UPGRADE: "URL","http://kept.example/x"', m.ok("AT+UPGRADE?"))

    def test_identification_and_ipr(self):
        m = self.module()
        m.ok("AT+CMEE=1")
        self.assertEqual(m.ok("AT+CGMI"), ["AirM2M"])
        self.assertEqual(m.ok("AT+CGMM"), ["Air780E"])
        gmr = m.ok("AT+GMR")
        self.assertEqual(gmr, ["AirM2M_Air780E_V1015_LTE_AT"])
        self.assertEqual(m.ok("ATI")[2], "Revision: " + gmr[0])   # the same revision everywhere
        self.assertEqual(m.ok("AT+CGMR"), ['+CGMR: "%s"' % gmr[0]])
        for c in ("AT+CGMI=?", "AT+CGMM=?", "AT+GMR=?"):
            self.assertEqual(m.ok(c), [])
        self.assertEqual(m.ok("AT+IPR?"), ["+IPR: 115200"])
        self.assertEqual(m.ok("AT+IPR=?"), ["+IPR: (),(9600,19200,38400,57600,115200,230400,460800,921600)"])
        m.ok("AT+IPR=921600")
        self.assertEqual(m.ok("AT+IPR?"), ["+IPR: 921600"])
        for bad in ("AT+IPR=1234", "AT+IPR=0", 'AT+IPR="9600"', "AT+IPR=9600,1", "AT+IPR"):
            self.assertEqual(m.cmd(bad)[1], "+CME ERROR: 50", bad)
        self.assertEqual(m.ok("AT+CSQ")[0][:5], "+CSQ:")   # the port goes on at the new rate

    def test_profile_stored_and_restored(self):
        m = self.module()
        m.ok("ATE1")
        m.ok("AT+CMEE=2")
        m.ok("AT+IPR=9600")
        m.ok("ATE0&W")   # stored: echo off, CMEE 2, 9600
        m.ok("AT&F")     # factory values now, the stored profile stays
        self.assertEqual(m.ok("AT+CMEE?"), ["AT+CMEE?\r", "+CMEE: 0"])
        self.assertEqual(m.ok("AT+IPR?"), ["AT+IPR?\r", "+IPR: 115200"])
        m.ok("ATZ")      # the stored profile back
        self.assertEqual(m.ok("AT+CMEE?;+IPR?"), ["+CMEE: 2", "+IPR: 9600"])
        self.assertEqual(m.cmd("AT&X")[1], "ERROR")
        self.assertEqual(m.cmd("ATZ1")[1], "ERROR")
        m.ok("AT+RESET")
        m.wait("^RDY$")
        self.assertEqual(m.ok("AT+CMEE?"), ["+CMEE: 2"])   # no echo after the reboot
        m.close()
        self.modules.remove(m)
        m = Module(m.device)   # a power cycle: no ATE0 from the host
        self.modules.append(m)
        m.sync()
        self.assertEqual(m.ok("AT+CMEE?;+IPR?"), ["+CMEE: 2", "+IPR: 9600"])
        m.ok("AT&F&W")   # the factory profile stored
        m.ok("AT+CFUN=1,1")
        m.wait("^RDY$")
        self.assertEqual(m.ok("AT+CMEE?"), ["AT+CMEE?\r", "+CMEE: 0"])

    def test_reset_reboots(self):
        m = self.module()
        m.ok("AT+CMEE=1")
        m.ok("AT+RESET")
        m.wait("^RDY$")
        self.assertEqual(m.ok("AT+CMEE?"), ["AT+CMEE?\r", "+CMEE: 0"])   # echo and CMEE back to defaults
        m.ok("ATE0")
        m.ok("AT+CFUN=1,1")
        m.wait("^RDY$")
        m.ok("AT+CFUN=1")
        self.assertEqual(m.cmd("AT+CFUN=1,2")[1], "ERROR")

    def test_new_device_needs_firmware(self):
        r = atlib.run(atlib.LUAT_AT, "--device", os.path.join(self.tmp, "blank"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--firmware FILE --fw-version", r.stderr)
        r = atlib.run(atlib.LUAT_AT, check=False)
        self.assertEqual(r.returncode, 2)

    def test_link_and_log_port(self):
        link = os.path.join(self.tmp, "ttyAT")
        m = self.module("dev", "--link", link, log_pty=True)
        self.assertEqual(os.path.realpath(link), m.path)
        self.assertTrue(m.log_path.startswith("/dev/"))
        m.close()
        self.assertFalse(os.path.lexists(link))


class Nv(Base):
    def test_settings_survive_restart(self):
        m = self.module()
        m.ok('AT+UPGRADE="KEY","Pk_123-abc"')
        m.ok('AT+UPGRADE="URL","http://127.0.0.1:9/fota.bin"')
        m.ok('AT+UPGRADE="PERIOD",60')
        imei = m.ok("AT+CGSN")[0]
        m = self.restart(m)
        self.assertEqual(m.ok("AT+UPGRADE?"), ['+UPGRADE: "KEY","Pk_123-abc"',
                                               '+UPGRADE: "URL","http://127.0.0.1:9/fota.bin"',
                                               '+UPGRADE: "PERIOD",60'])
        self.assertEqual(m.ok("AT+CGSN")[0], imei)
        m.ok('AT+UPGRADE="URL",""')   # back to the platform
        m.ok('AT+UPGRADE="KEY",""')
        m = self.restart(m)
        self.assertEqual(m.ok("AT+UPGRADE?")[:2], ['+UPGRADE: "KEY",""', '+UPGRADE: "URL",""'])

    def test_corrupt_nv_reads_as_defaults(self):
        m = self.module()
        m.ok('AT+UPGRADE="PERIOD",60')
        m.close()
        self.modules.remove(m)
        with open(os.path.join(m.device, "nv"), "wb") as f:
            f.write(b"key=\x00\xff\nperiod=999999999999\n")
        m = self.module("dev", firmware=None)
        self.assertEqual(m.ok("AT+UPGRADE?")[2], '+UPGRADE: "PERIOD",86400')
        self.assertIn("settings unreadable", m.stderr())
        m.ok('AT+UPGRADE="PERIOD",30')   # and it can be written again
        m = self.restart(m)
        self.assertEqual(m.ok("AT+UPGRADE?")[2], '+UPGRADE: "PERIOD",30')

    def test_corrupt_profile_reads_as_factory(self):
        m = self.module()
        m.ok("AT+CMEE=2")
        m.ok("AT&W")
        m.close()
        self.modules.remove(m)
        with open(os.path.join(m.device, "profile"), "wb") as f:
            f.write(b"echo=7\ncmee=\xff\nipr=300\n")
        m = self.module("dev", firmware=None)
        self.assertEqual(m.ok("AT+CMEE?;+IPR?"), ["+CMEE: 0", "+IPR: 115200"])
        self.assertIn("profile unreadable", m.stderr())


class UpgradeUrl(Base):
    """URL mode against a static server (the guide's self-built server)."""

    def setUp(self):
        super().setUp()
        self.srv = self.static()
        self.pkg = atlib.read(atlib.delta_package(os.path.join(self.tmp, "dfota.bin"), self.v1015, self.v1016,
                                            self.key))

    def url_module(self, route="/dfota.bin"):
        m = self.module(trusted=self.pub)
        m.ok('AT+UPGRADE="URL","%s%s"' % (self.srv.url, route))
        return m

    def test_upgrade_reboot_and_ask_again(self):
        self.srv.routes["/dfota.bin"] = self.pkg
        m = self.module(trusted=self.pub, log_pty=True)
        m.ok('AT+UPGRADE="URL","%s/dfota.bin"' % self.srv.url)
        log = serial.Serial(m.log_path, 115200, timeout=0.05)
        self.cleanups.append(log.close)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "START"$')
        m.wait(r'^\+UPGRADE: "DOWNLOAD",100$')
        m.wait(r'^\+UPGRADE: "VERIFIED"$')
        m.wait(r'^\+UPGRADE: "REBOOT"$')
        m.wait("^RDY$")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$')
        self.ended(m, 0)
        # it asks again by itself: the static file is no upgrade for V1016
        m.wait(r'^\+UPGRADE: "FAIL","wrong_base"$')
        self.ended(m, END["wrong_base"])
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1016")
        progress = b""   # the second port: the upgrade's progress log
        end = time.time() + 3
        while b"boot: upgraded to V1016" not in progress and time.time() < end:
            progress += log.read(4096)
        for text in (b"upgrade: GET " + self.srv.url.encode(), b'+UPGRADE: "VERIFIED"', b"boot: V1016"):
            self.assertIn(text, progress)
        q = self.srv.requests[0]
        self.assertRegex(q, r"^/dfota.bin\?firmware_name=Air780E_AT_EC618&version=1015\.0\.0&imei=\d{15}$")
        self.assertIn("version=1016.0.0", self.srv.requests[1])
        m = self.restart(m)
        self.assertEqual(self.revision(m), "1016")
        with open(os.path.join(m.device, "slots", "core_b.bin"), "rb") as f:
            self.assertEqual(f.read(), atlib.read(self.v1016))

    def test_profile_survives_the_ota_reboot(self):
        self.srv.routes["/dfota.bin"] = self.pkg
        m = self.url_module()
        m.ok("AT+CMEE=1")
        m.ok("AT&W")   # echo off (ATE0) and numeric errors, stored
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "REBOOT"$')
        m.wait("^RDY$")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$')
        # no echo, as the host left it (the check that follows UPDATED may put its URCs between)
        answer = [x for x in m.ok("AT+CMEE?") if not x.startswith("+UPGRADE:")]
        self.assertEqual(answer, ["+CMEE: 1"])
        self.assertEqual(m.cmd("AT+IPR=1")[1], "+CME ERROR: 50")
        self.assertEqual(self.revision(m), "1016")

    def test_url_used_as_is_with_hashes(self):
        self.srv.routes["/fixed"] = self.pkg
        m = self.url_module()
        m.ok('AT+UPGRADE="URL","###%s/fixed"' % self.srv.url)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$')
        self.assertEqual(self.srv.requests[0], "/fixed")

    def refused(self, body, reason, route="/dfota.bin", timeout=10):
        self.srv.routes[route] = body
        m = self.url_module(route)
        m.ok("AT+UPGRADE")
        got = m.wait(r'^\+UPGRADE: "FAIL","%s"$' % reason, timeout)
        self.ended(m, END[got.split(",")[1].strip('"')])
        self.assertEqual(self.revision(m), "1015")
        self.assertFalse(os.path.exists(os.path.join(m.device, "fota", "stage.bin")))
        return m

    def test_corrupt_package(self):
        bad = bytearray(self.pkg)
        bad[len(bad) // 2] ^= 0x40
        self.refused(bytes(bad), "hash_mismatch|bad_section")

    def test_wrong_key(self):
        other, _ = atlib.keygen(self.tmp, "other")
        pkg = atlib.read(atlib.delta_package(os.path.join(self.tmp, "o.bin"), self.v1015, self.v1016, other))
        self.refused(pkg, "bad_signature")

    def test_unsigned(self):
        pkg = atlib.read(atlib.delta_package(os.path.join(self.tmp, "u.bin"), self.v1015, self.v1016))
        self.refused(pkg, "no_signature")

    def test_wrong_bsp(self):
        pkg = atlib.read(atlib.delta_package(os.path.join(self.tmp, "w.bin"), self.v1015, self.v1016, self.key,
                                       bsp="EC718"))
        self.refused(pkg, "bad_meta")

    def test_not_a_package(self):
        self.refused(b"<html>hello</html>" * 10, "not_a_package")

    def test_oversize(self):
        big = bytearray(self.pkg[:12]) + bytes(600 * 1024)
        big[8:12] = (600 * 1024 + 12).to_bytes(4, "little")   # announces more than the 480 KiB area
        self.refused(bytes(big), "too_large")
        self.modules.pop().close()
        self.refused(self.pkg + b"trailing junk" * 100, "too_large")   # more than the package announces

    def test_truncated_server_closes(self):
        def half(handler):
            atlib.partial(handler, self.pkg, len(self.pkg) // 2)
            handler.close_connection = True
        self.refused(half, "closed")

    def test_http_errors(self):
        m = self.url_module("/missing")
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "FAIL","http_404"$')
        self.ended(m, END["http_404"])
        m.ok('AT+UPGRADE="URL","http://127.0.0.1:1/x"')   # nothing listens
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "FAIL","connect"$')
        self.ended(m, END["connect"])
        self.assertEqual(self.revision(m), "1015")

    def test_43_asks_again_after_retry_after(self):
        answers = []

        def wait_then_package(handler):
            answers.append(time.time())
            if len(answers) == 1:
                atlib.answer(handler, 503, b'{"code":43,"msg":"please wait"}', [("Retry-After", "1")])
            else:
                atlib.answer(handler, 200, self.pkg)
        self.srv.routes["/dfota.bin"] = wait_then_package
        m = self.url_module()
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "CODE",43,"please wait"$')
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 5)   # by itself, without a second AT+UPGRADE
        self.ended(m, 0)
        self.assertGreater(answers[1] - answers[0], 0.9)
        # one check: 43 was no result (no END, no second START before the package)
        first = m.lines.index('+UPGRADE: "START"')
        upto = m.lines.index('+UPGRADE: "VERIFIED"')
        self.assertEqual([x for x in m.lines[first + 1:upto] if "START" in x or "END" in x], [])

    def test_43_is_waited_through_a_bounded_number_of_times(self):
        self.srv.routes["/dfota.bin"] = lambda handler: atlib.answer(
            handler, 503, b'{"code":43,"msg":"please wait"}', [("Retry-After", "300")])
        m = self.url_module()
        m.ok("AT+CMEE=1")
        m.ok("AT+UPGRADE")
        for i in range(10):
            m.wait(r'^\+UPGRADE: "CODE",43,"please wait"$')
            if i < 9:   # waiting (300 s, as told): the host's AT+UPGRADE asks again now
                self.assertIn('+UPGRADE: "STATE","WAIT",0', m.ok("AT+UPGRADE?"))
                m.ok("AT+UPGRADE")
        self.ended(m, 43)   # the tenth 43 ends the check
        self.assertEqual(len(self.srv.requests), 10)
        self.assertEqual(m.lines.count('+UPGRADE: "START"'), 1)
        self.assertFalse([x for x in m.ok("AT+UPGRADE?") if "STATE" in x])

    def test_state_and_last_result(self):
        full = atlib.read(atlib.full_package(os.path.join(self.tmp, "full.bin"), self.v1016, self.key))

        def slow(handler):   # the whole image (~200 KB) in about a second
            if "version=1015" not in handler.path:
                return atlib.answer(handler, 404, b"")
            atlib.partial(handler, full, len(full), 4096, 0.02)
        self.srv.routes["/dfota.bin"] = slow
        m = self.url_module("/missing")
        self.assertEqual(len(m.ok("AT+UPGRADE?")), 3)   # never checked: no LAST, and no STATE
        t0 = time.time()
        m.ok("AT+UPGRADE")
        self.ended(m, END["http_404"])
        last = [x for x in m.ok("AT+UPGRADE?") if '"LAST"' in x]
        got = re.fullmatch(r'\+UPGRADE: "LAST",117,(\d+),"V1015"', last[0] if last else "")
        self.assertTrue(got, last)
        self.assertLessEqual(abs(int(got.group(1)) - t0), 2)
        m.ok('AT+UPGRADE="URL","%s/dfota.bin"' % self.srv.url)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "DOWNLOAD",[1-8]0$', 10)
        state = [x for x in m.ok("AT+UPGRADE?") if '"STATE"' in x]
        got = re.fullmatch(r'\+UPGRADE: "STATE","DOWNLOAD",(\d+)', state[0] if state else "")
        self.assertTrue(got, state)
        self.assertTrue(10 <= int(got.group(1)) < 100, state)
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 20)
        self.ended(m, 0)
        self.ended(m, END["http_404"])   # the check after the update: nothing for V1016
        m = self.restart(m)   # the last result is kept in NV
        self.assertRegex(self.last_result(m), r'^\+UPGRADE: "LAST",117,\d+,"V1016"$')

    def test_json_answer_garbage(self):
        self.srv.routes["/dfota.bin"] = lambda handler: atlib.answer(handler, 404, b'{"code":"27",')
        m = self.url_module()
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "FAIL","http_404"$')
        self.ended(m, END["http_404"])

    def test_second_upgrade_while_running(self):
        def slow(handler):
            atlib.partial(handler, self.pkg, len(self.pkg), 64, 0.02)
        self.srv.routes["/dfota.bin"] = slow
        m = self.url_module()
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "START"$')
        out = m.ok("AT+UPGRADE")   # (DOWNLOAD URCs may come between)
        self.assertEqual(len([x for x in out if re.match(r'^\+UPGRADE: "BUSY",\d+$', x)]), 1, out)
        self.assertIn("+CSQ: 28,99", m.ok("AT+CSQ"))   # the port answers during a download
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 20)
        self.assertEqual(len([r for r in self.srv.requests if "1015.0.0" in r]), 1)

    def test_reset_during_download_keeps_old(self):
        def stall(handler):
            atlib.partial(handler, self.pkg, 100)
            time.sleep(3)
        self.srv.routes["/dfota.bin"] = stall
        m = self.url_module()
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "START"$')
        time.sleep(0.3)
        m.ok("AT+RESET")
        self.ended(m, 101)   # the reset cut the check: it ends, once, before the reboot
        m.wait("^RDY$")
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1015")
        self.assertFalse(os.path.exists(os.path.join(m.device, "fota", "stage.bin")))


class UpgradeServer(Base):
    """The IoT-platform query against fota-server serving an AT project."""

    def setUp(self):
        super().setUp()
        self.fs = atlib.FotaServer(self.tmp)
        self.cleanups.append(self.fs.close)
        a = self.fs.admin
        a("project", "add", "--name", "atp", "--key", "KEY_at1", "--owner", "alice")
        a("at", "add", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--version", "V1015",
          "--image", self.v1015)
        a("at", "add", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--version", "V1016",
          "--image", self.v1016)
        a("config", "set", "--project", "atp", "--firmware", "Air780E_AT_EC618")

    def platform_module(self, name="dev", *args, key="KEY_at1", **kw):
        m = self.module(name, *args, env={"LUAT_FOTA_IOT_URL": self.fs.url}, trusted=self.pub, **kw)
        if key:
            m.ok('AT+UPGRADE="KEY","%s"' % key)
        return m

    def upgrade_through_43(self, m):
        m.ok("AT+UPGRADE")
        line = m.wait(r'^\+UPGRADE: "(CODE|VERIFIED)"')
        if "CODE" in line:
            self.assertRegex(line, r'^\+UPGRADE: "CODE",43,')
            for _ in range(50):
                time.sleep(0.2)
                m.ok("AT+UPGRADE")
                line = m.wait(r'^\+UPGRADE: "(CODE|VERIFIED)"')
                if "VERIFIED" in line:
                    break
                self.assertRegex(line, r'^\+UPGRADE: "CODE",43,')
        m.wait(r'^\+UPGRADE: "REBOOT"$')
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$')
        self.ended(m, 0)
        m.wait(r'^\+UPGRADE: "CODE",27,"already latest')
        self.ended(m, 27)

    def test_manual_upgrade_delta_then_27(self):
        self.fs.serve("--key", self.key, "--build-delay-ms", "300")
        m = self.platform_module()
        imei = m.ok("AT+CGSN")[0]
        self.upgrade_through_43(m)
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1016")
        log = self.fs.log(imei, "\t404\t27\t")
        self.assertIn("\t503\t43\t", log)
        sent = re.search(r"\t200\t0\t.*package 1016\.0\.0 from V1015, (\d+) bytes", log)
        self.assertTrue(sent, log)
        self.assertLess(int(sent.group(1)), 50000)   # a delta, not the 200 KB image
        self.assertIn("\t404\t27\t", log)
        self.assertIn("project_key=KEY_at1&firmware_name=Air780E_AT_EC618&version=1015.0.0", log)

    def test_key_persisted_across_restart(self):
        self.fs.serve("--key", self.key)
        m = self.platform_module()
        m = self.restart(m, env={"LUAT_FOTA_IOT_URL": self.fs.url})
        self.upgrade_through_43(m)

    def test_keyless_device_assign_and_family(self):
        self.fs.serve("--key", self.key)
        a = self.fs.admin
        m = self.platform_module("nokey", key=None)
        imei = m.ok("AT+CGSN")[0]
        m.ok("AT+UPGRADE")
        # in no project yet, and no default project for its model: it is told so (it sent no key)
        m.wait(r'^\+UPGRADE: "CODE",25,"no default project for model Air780E; set a KEY"$')
        self.ended(m, 25)
        a("device", "assign", "--imei", imei, "--project", "atp")
        self.upgrade_through_43(m)
        self.assertIn("project_key=KEY_at1&firmware_name=Air780E_AT_EC618&version=1016.0.0",
                      self.fs.log(imei, "version=1016"))
        # another module, never assigned: its family's default project, made by `at defaults` under the
        # guide's name; a second run changes nothing
        out = a("at", "defaults", "--owner", "alice").stdout
        self.assertEqual(a("at", "defaults", "--owner", "alice").stdout, out.replace("\tadded\t", "\tkept\t"))
        lines = {l.split("\t")[0]: l.split("\t") for l in out.splitlines()}
        self.assertEqual(sorted(lines), ["Air72XUX标准模块", "Air7XXE标准模块", "Air7XXF标准模块"])
        _, std_key, added, models = lines["Air7XXE标准模块"]
        self.assertEqual((added, models), ("added", "Air780E Air780EX Air780EG"))
        self.assertIn("Air7XXE标准模块\t%s\talice" % std_key, a("project", "list").stdout)
        a("at", "add", "--project", "Air7XXE标准模块", "--model", "Air780E", "--bsp", "EC618", "--version", "V1016",
          "--image", self.v1016)
        a("config", "set", "--project", "Air7XXE标准模块", "--firmware", "Air780E_AT_EC618")
        m2 = self.platform_module("nokey2", key=None)   # Air780E, its bsp (EC618) from its model
        imei2 = m2.ok("AT+CGSN")[0]
        self.upgrade_through_43(m2)
        self.assertIn("project_key=%s&firmware_name=Air780E_AT_EC618" % std_key, self.fs.log(imei2, std_key))

    def test_bsp_from_model(self):
        """A module's bsp is its model's unless --bsp says otherwise (the identity flashed first)."""
        for name, args, bsp in (("m724", ("--model", "Air724UG"), "RDA8910"),
                                ("m780ep", ("--model", "Air780EP"), "EC718P"),
                                ("m780eq", ("--model", "Air780EQ", "--bsp", "EC718U"), "EC718U")):
            m = Module(os.path.join(self.tmp, name), *args, firmware=self.v1015)
            try:
                ident = atlib.read(os.path.join(m.device, "identity")).decode()
            finally:
                m.close()
            self.assertIn("model=%s\nbsp=%s\n" % (args[1], bsp), ident)

    def test_prebuilt_delta_upload(self):
        pkg = atlib.delta_package(os.path.join(self.tmp, "dfota.bin"), self.v1015, self.v1016, self.key)
        a = self.fs.admin
        a("project", "add", "--name", "pre", "--key", "KEY_pre")
        out = a("at", "delta", "--project", "pre", "--model", "Air780E", "--bsp", "EC618", "--package", pkg).stdout
        self.assertIn("V1015 -> V1016 stored", out)
        a("config", "set", "--project", "pre", "--firmware", "Air780E_AT_EC618")
        bad = os.path.join(self.tmp, "bad.bin")
        with open(bad, "wb") as f:
            f.write(b"LFPK" + bytes(400))
        r = a("at", "delta", "--project", "pre", "--model", "Air780E", "--bsp", "EC618", "--package", bad,
              check=False)
        self.assertEqual(r.returncode, 2)
        self.fs.serve()   # no key: the uploaded package is served as signed by its maker
        m = self.platform_module(key="KEY_pre")
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "VERIFIED"$')   # no 43: nothing to build
        m.wait(r'^\+UPGRADE: "CODE",27,')
        # a module on another base: no delta uploaded from it, no image to build one
        m2 = self.platform_module("old", key="KEY_pre", firmware=self.v1015)
        shutil.copy(self.v1015, os.path.join(self.tmp, "V1014.bin"))
        m2.close()
        self.modules.remove(m2)
        shutil.rmtree(m2.device)
        m3 = Module(os.path.join(self.tmp, "old"), "--firmware", os.path.join(self.tmp, "V1014.bin"),
                    "--fw-version", "V1014", env={"LUAT_FOTA_IOT_URL": self.fs.url}, trusted=self.pub)
        self.modules.append(m3)
        m3.sync()
        m3.ok("ATE0")
        m3.ok('AT+UPGRADE="KEY","KEY_pre"')
        m3.ok("AT+UPGRADE")
        m3.wait(r'^\+UPGRADE: "CODE",44,"base core version missing')
        self.ended(m3, 44)

    def test_admin_refusals(self):
        a = self.fs.admin
        for args in (("at", "add", "--project", "atp", "--bsp", "EC618", "--version", "V1017", "--image", self.v1016),
                     ("at", "add", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--version", "1.0.0",
                      "--image", self.v1016),
                     ("at", "add", "--project", "nosuch", "--model", "Air780E", "--bsp", "EC618", "--version",
                      "V1017", "--image", self.v1016),
                     ("at", "add", "--project", "atp", "--model", "Air 780", "--bsp", "EC618", "--version", "V1017",
                      "--image", self.v1016),
                     ("at", "add", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--version", "V1016",
                      "--image", self.v1016),   # already there
                     ("at", "family", "--model", "Air780E", "--project", "nosuch"),
                     ("device", "assign", "--imei", "869041359003369"),
                     ("device", "assign", "--imei", "869041359003368", "--project", "atp")):   # bad check digit
            self.assertEqual(a(*args, check=False).returncode, 2, args)
        script = os.path.join(self.tmp, "main.lua")
        with open(script, "w") as f:
            f.write('VERSION = "1.0.0"\n')
        lua_pkg = os.path.join(self.tmp, "lua.fota")
        atlib.run(atlib.FOTAPACK, "build", "--project", "p", "--bsp", "EC618", "--script", script, "--version",
                  "1.0.0", "--core-version", "V1103", "-o", lua_pkg)
        r = a("at", "delta", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--package", lua_pkg,
              check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("one core delta", r.stderr)

    def test_platform_codes(self):
        self.fs.serve("--key", self.key)
        a = self.fs.admin
        m = self.platform_module(key="NO_SUCH_KEY")
        imei = m.ok("AT+CGSN")[0]
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "CODE",25,')                         # unknown key
        self.ended(m, 25)
        # a family without releases in the project
        m7 = self.platform_module("air700", "--model", "Air700E")
        m7.ok("AT+UPGRADE")
        m7.wait(r'^\+UPGRADE: "CODE",26,')
        self.ended(m7, 26)
        # owned by someone else
        a("device", "add", "--imei", imei, "--owner", "bob")
        m.ok('AT+UPGRADE="KEY","KEY_at1"')
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "CODE",17,')
        self.ended(m, 17)
        a("device", "add", "--imei", imei, "--owner", "alice")
        # upgrades only from other versions
        a("config", "set", "--project", "atp", "--firmware", "Air780E_AT_EC618", "--from", "1014.0.0")
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "CODE",21,')
        self.ended(m, 21)
        # checks are never a loop: more than the day's 6, answered 27 (upgrade disabled), none is 40
        a("config", "set", "--project", "atp", "--firmware", "Air780E_AT_EC618", "--enabled", "0")
        for _ in range(8):
            m.ok("AT+UPGRADE")
            m.wait(r'^\+UPGRADE: "CODE",27,')
            self.ended(m, 27, quiet=0)
        # loop upgrade: the 7th download of the day from byte 0 (a host's client here) bans the module
        a("config", "set", "--project", "atp", "--firmware", "Air780E_AT_EC618", "--from", "any", "--enabled", "1")
        url = "%s?project_key=KEY_at1&firmware_name=Air780E_AT_EC618&version=1015.0.0&imei=%s" % (self.fs.url, imei)
        statuses = []
        for _ in range(60):   # 43 while the delta is built: not a download
            statuses.append(atlib.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url).stdout)
            if statuses[-1] == "200":
                break
            time.sleep(0.2)
        for _ in range(6):
            statuses.append(atlib.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url).stdout)
        self.assertEqual(statuses[-7:], ["200"] * 6 + ["403"], statuses)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "CODE",40,"loop upgrade: device banned')   # whatever it asks
        self.ended(m, 40)
        # an IMEI with a wrong check digit (a host's own client): 3
        r = atlib.run("curl", "-s", "%s?project_key=KEY_at1&firmware_name=Air780E_AT_EC618&version=1015.0.0"
                      "&imei=%s" % (self.fs.url, imei[:14] + str((int(imei[14]) + 1) % 10)), check=False)
        self.assertIn('"code":3', r.stdout)


class Period(Base):
    def test_automatic_check_with_period(self):
        srv = self.static()
        srv.routes["/dfota.bin"] = atlib.read(atlib.delta_package(os.path.join(self.tmp, "d.bin"), self.v1015,
                                                             self.v1016, self.key))
        m = self.module(trusted=self.pub)
        m.ok('AT+UPGRADE="URL","%s/dfota.bin"' % srv.url)
        t0 = time.time()
        m.ok('AT+UPGRADE="PERIOD",2')
        m.wait(r'^\+UPGRADE: "START"$', 5)
        first = time.time() - t0
        self.assertGreater(first, 1.5)   # 2 s minus at most a tenth (jitter)
        self.assertLess(first, 3.5)
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 10)
        m.wait(r'^\+UPGRADE: "FAIL","wrong_base"$', 5)    # the check right after the update
        t1 = time.time()
        m.wait(r'^\+UPGRADE: "START"$', 5)                # and the periodic one goes on
        self.assertGreater(time.time() - t1, 1.5)
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1016")
        m.ok('AT+UPGRADE="PERIOD",0')
        m.pending.clear()
        time.sleep(3)
        self.assertFalse([x for x in m.pending if "START" in x])

    def test_jitter_spreads_a_fleet(self):
        # The first check of modules told PERIOD 5 s together: 4.5..5 s later, not all in the same moment.
        srv = self.static()
        starts = []
        mods = []
        for i in range(4):
            m = self.module("fleet%d" % i)
            m.ok('AT+UPGRADE="URL","%s/none"' % srv.url)
            mods.append(m)
        t0 = time.time()
        for m in mods:
            m.ok('AT+UPGRADE="PERIOD",5')
        for m in mods:
            m.wait(r'^\+UPGRADE: "START"$', 8)
            starts.append(m.matched_at - t0)
        self.assertTrue(all(4.3 < s < 5.6 for s in starts), starts)
        self.assertGreater(max(starts) - min(starts), 0.03, starts)   # jitter: up to 0.5 s each


class Resume(Base):
    """A download cut by kill -9 at about half goes on from the durable
    offset after the restart (Range/If-Range), as libfota's does."""

    SYNC = 64 * 1024   # the staging area's sync interval (FOTA_STAGE_SYNC_BYTES)

    def test_cut_download_resumes(self):
        v1016, pkg, seen, m = self.cut_at_half(25)
        self.assertGreater(len(pkg), 4 * self.SYNC)
        first = seen[0][2]
        self.assertLess(first, len(pkg))
        self.assertEqual(seen[0][:2], [None, None])

        m = self.restart(m)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "VERIFIED"$', 30)
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 30)
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1016")
        self.assertEqual(atlib.read(os.path.join(m.device, "slots", "core_b.bin")), atlib.read(v1016))
        self.assertEqual(len(seen), 2, seen)
        rng, if_range, sent = seen[1]
        self.assertRegex(rng or "", r"^bytes=\d+-$", "the second request did not resume: %r" % seen)
        offset = int(re.match(r"^bytes=(\d+)-$", rng).group(1))
        # the durable offset: a sync point at or before what arrived, past the start
        self.assertGreater(offset, 0)
        self.assertEqual(offset % self.SYNC, 0)
        self.assertLessEqual(offset, first)
        print("package %d bytes: cut after %d sent, resumed from %d, %d sent again" % (len(pkg), first, offset, sent))
        self.assertEqual(if_range, self.CUT_ETAG)
        self.assertEqual(sent, len(pkg) - offset)
        self.assertLess(sent, len(pkg))


    def test_cut_download_resumes_from_fota_server(self):
        # the same through fota-server behind a slow relay: its log shows the Range
        v1015, v1016 = atlib.firmware_pair(self.tmp, size=300000, seed=26)
        fs = atlib.FotaServer(self.tmp)
        self.cleanups.append(fs.close)
        fs.admin("project", "add", "--name", "atp", "--key", "KEY_at1", "--owner", "alice")
        # no V1015 image: a module on V1015 gets the whole V1016 image, large enough to cut
        fs.admin("at", "add", "--project", "atp", "--model", "Air780E", "--bsp", "EC618", "--version", "V1016",
                 "--image", v1016)
        fs.admin("config", "set", "--project", "atp", "--firmware", "Air780E_AT_EC618")
        base = fs.serve("--key", self.key)
        query = "?project_key=KEY_at1&firmware_name=Air780E_AT_EC618&version=1015.0.0&imei=490154203237518"
        u = urllib.parse.urlsplit(base)
        for _ in range(50):   # another module's requests have the package built (43 until then)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("GET", u.path + query)
            resp = conn.getresponse()
            size = len(resp.read())
            conn.close()
            if resp.status == 200:
                break
            time.sleep(0.1)
        self.assertEqual(resp.status, 200)
        self.assertGreater(size, 4 * self.SYNC)
        rows = []

        def slow_then_fast(handler):
            rows.append({})
            atlib.relay(handler, base, rows[-1], pause=0.02 if len(rows) == 1 else 0)
        srv = self.static()
        srv.routes["/api/site/firmware_upgrade"] = slow_then_fast
        m = self.module(firmware=v1015, trusted=self.pub)
        imei = m.ok("AT+CGSN")[0]
        m.ok('AT+UPGRADE="URL","%s/api/site/firmware_upgrade"' % srv.url)
        m.ok('AT+UPGRADE="KEY","KEY_at1"')
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "DOWNLOAD",50$', 30)
        m.proc.kill()
        m.proc.wait(timeout=10)
        first = rows[0]["sent"]
        self.assertEqual((rows[0]["status"], rows[0]["range"]), (200, None))
        self.assertLess(first, size)

        m = self.restart(m)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 30)
        m.wait(r'^\+UPGRADE: "CODE",27,', 10)
        self.assertRegex(rows[1]["range"] or "", r"^bytes=\d+-$", "the second request did not resume: %r" % rows)
        offset = int(rows[1]["range"][6:-1])
        self.assertGreater(offset, 0)
        self.assertEqual(offset % self.SYNC, 0)
        self.assertLessEqual(offset, first)
        self.assertEqual((rows[1]["status"], rows[1]["sent"]), (206, size - offset))
        log = fs.log(imei, r"range=bytes=%d-" % offset)
        self.assertRegex(log, r"\t0\tproject_key=KEY_at1&[^\n]*version=1015\.0\.0[^\n]* range=bytes=%d-\t" % offset)
        self.assertEqual(len(re.findall("version=1015", log)), 2, log)   # the cut download and its resume
        m.ok("ATE0")
        self.assertEqual(self.revision(m), "1016")


class PowerCut(Base):
    """A power cut at every storage write of an AT upgrade: the module then
    boots the old or the new firmware and answers AT."""

    def cut_template(self, seed):
        """A V1015 module set to upgrade to V1016 from a static server, stopped:
        (its device directory, the two firmware files)."""
        v1015, v1016 = atlib.firmware_pair(self.tmp, size=48000, seed=seed)
        srv = self.static()
        srv.routes["/dfota.bin"] = atlib.read(atlib.delta_package(os.path.join(self.tmp, "d.bin"), v1015, v1016,
                                                             self.key))
        template = self.module("template", firmware=v1015, trusted=self.pub)
        template.ok('AT+UPGRADE="URL","%s/dfota.bin"' % srv.url)
        template.close()
        self.modules.remove(template)
        return template.device, v1015, v1016

    def cut_device(self, template):
        """A fresh copy of the template's device for one cut."""
        dev = os.path.join(self.tmp, "cut")
        shutil.rmtree(dev, ignore_errors=True)
        shutil.copytree(template, dev)
        return dev

    @staticmethod
    def urcs(m):
        """The +UPGRADE lines a module's process wrote, from its log."""
        return re.findall(r"^\[ *\d+\] (\+UPGRADE: .*)$", m.stderr(), re.M)

    def test_power_cut_at_every_write(self):
        template, v1015, v1016 = self.cut_template(seed=7)
        images = {atlib.read(v1015): "1015", atlib.read(v1016): "1016"}
        tried = bricked = wrong = 0
        miscounted = []   # cuts after which the host was not told the upgrade exactly once
        for n in range(1, 400):
            dev = self.cut_device(template)
            m = Module(dev, env={"LUAT_FOTA_POWERCUT": str(n)})
            try:
                m.sync()
                m.write(b"AT+UPGRADE\r")
                m.wait(r'^\+UPGRADE: "FAIL"', 10)   # the check after the update: the upgrade is done
            except AssertionError:
                pass
            rc = m.close()
            # What the module sent, from its log (each URC is logged as it is written to the AT
            # port): the pty drops what the host had not read yet when the process dies (Linux
            # hangs up and flushes the slave), where a UART's bytes would be on the wire.
            told = self.urcs(m)
            if rc != 76:   # the port's power-cut exit: no cut this time, every write was tried
                self.assertEqual(rc, 0, "cut %d: rc %s: %s" % (n, rc, m.stderr()))
                self.assertEqual((told.count('+UPGRADE: "UPDATED","V1016"'), told.count('+UPGRADE: "END",0')),
                                 (1, 1), told)
                break
            tried += 1
            try:
                m = Module(dev)
                m.sync()
                m.ok("ATE0")
                rev = self.revision(m)
                slots = os.path.join(dev, "slots")
                running = [images.get(atlib.read(os.path.join(slots, f))) for f in os.listdir(slots)
                           if f.startswith("core")]
                if rev not in ("1015", "1016") or rev not in running:
                    wrong += 1
                # and it still upgrades; its check (or the one after the update) ends on the static
                # file's wrong_base once V1016 runs
                m.ok("AT+UPGRADE")
                m.wait(r'^\+UPGRADE: "END",136$', 10)
                m.close()
                told += self.urcs(m)
                # one upgrade, V1015 -> V1016, across the cut and both boots: told once
                counts = [told.count(x) for x in ('+UPGRADE: "UPDATED","V1016"', '+UPGRADE: "END",0')]
                if counts != [1, 1] or [x for x in told if "ROLLBACK" in x]:
                    miscounted.append((n, counts))
            except AssertionError:
                bricked += 1
                m.close()
        print("power cuts tried: %d, bricked: %d, wrong firmware: %d, not told once: %d"
              % (tried, bricked, wrong, len(miscounted)))
        self.assertGreater(tried, 5)
        self.assertEqual(bricked, 0)
        self.assertEqual(wrong, 0)
        self.assertEqual(miscounted, [])

    def test_rollback_ends_with_100(self):
        # A power cut once the boot record says "trying" the new firmware
        # (before the boot confirms it), then its slot damaged: the next
        # boot rolls back and the check that made it ends with END 100.
        template, _, v1016 = self.cut_template(seed=8)
        for n in range(1, 400):
            dev = self.cut_device(template)
            m = Module(dev, env={"LUAT_FOTA_POWERCUT": str(n)})
            try:
                m.sync()
                m.write(b"AT+UPGRADE\r")
                m.wait(r'^\+UPGRADE: "END"', 10)
            except AssertionError:
                pass
            rc = m.close()
            self.assertEqual(rc, 76, "no cut left a trying firmware to roll back (cut %d)" % n)
            core_b = os.path.join(dev, "slots", "core_b.bin")
            if not os.path.exists(core_b) or atlib.read(core_b) != atlib.read(v1016):
                continue   # the new firmware is not all written yet: nothing to try
            with open(core_b, "r+b") as f:   # the new firmware damaged where it lies
                f.seek(100)
                f.write(b"\xde\xad")
            m = Module(dev)
            self.modules.append(m)
            m.wait("^RDY$")
            try:
                m.wait(r'^\+UPGRADE: "ROLLBACK","V1015"$', 0.5)
            except AssertionError:
                m.close()
                self.modules.remove(m)
                continue
            self.ended(m, 100)
            self.assertEqual(m.lines.count('+UPGRADE: "END",100'), 1)
            m.sync()
            m.ok("ATE0")
            self.assertEqual(self.revision(m), "1015")
            self.assertRegex(self.last_result(m), r'^\+UPGRADE: "LAST",100,\d+,"V1015"$')
            print("rolled back after the cut at write %d" % n)
            return
        self.fail("no rollback seen")


class Recovery(Base):
    """What a host is owed across cuts: INTERRUPTED and a quick retry that
    resumes, no second download of the installed package from a static URL,
    and the host-side example of docs/at.md."""

    def test_interrupted_reported_and_retried_soon(self):
        _, pkg, seen, m = self.cut_at_half(27)
        m.close()
        self.modules.remove(m)

        # the restart: no AT+UPGRADE from the host
        m = Module(m.device, env={"LUAT_AT_RETRY_MS": "300-800"})
        self.modules.append(m)
        m.wait("^RDY$")
        rdy = m.matched_at
        pct = int(m.wait(r'^\+UPGRADE: "INTERRUPTED",\d+$').split(",")[1])
        m.wait(r'^\+UPGRADE: "START"$', 5)
        self.assertLess(m.matched_at - rdy, 4, m.lines)   # seconds, not a PERIOD (86400 s)
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 30)
        self.ended(m, 0, quiet=0)
        self.ended(m, 27)   # the check after the update
        self.assertEqual(len(seen), 2, seen)
        rng, if_range, sent = seen[1]
        offset = int(re.match(r"^bytes=(\d+)-$", rng or "bytes=0-").group(1))
        self.assertGreater(offset, 0, seen)
        self.assertEqual((if_range, sent), (self.CUT_ETAG, len(pkg) - offset))
        self.assertEqual(pct, offset * 100 // len(pkg), (pct, offset, len(pkg)))
        # one START for the retry and one for the check after it; INTERRUPTED once
        self.assertEqual(m.lines.count('+UPGRADE: "START"'), 2, m.lines)
        self.assertEqual(len([x for x in m.lines if "INTERRUPTED" in x]), 1)
        m = self.restart(m)   # nothing interrupted any more
        m.ok("AT")
        self.assertFalse([x for x in m.lines if "INTERRUPTED" in x], m.lines)

    def test_interrupted_without_key_or_url_waits_for_the_host(self):
        # a cut download of the platform's query: told, but no automatic retry without a KEY or URL
        v1015, v1016 = atlib.firmware_pair(self.tmp, size=300000, seed=28)
        pkg = atlib.read(atlib.full_package(os.path.join(self.tmp, "full.bin"), v1016, self.key))

        def slow(handler):
            handler.send_response(200)
            handler.send_header("ETag", '"p"')
            handler.send_header("Content-Length", str(len(pkg)))
            handler.end_headers()
            try:
                for i in range(0, len(pkg), 4096):
                    handler.wfile.write(pkg[i:i + 4096])
                    handler.wfile.flush()
                    time.sleep(0.02)
            except (BrokenPipeError, ConnectionResetError):
                pass
        srv = self.static()
        srv.routes["/api"] = slow
        env = {"LUAT_FOTA_IOT_URL": srv.url + "/api", "LUAT_AT_RETRY_MS": "100-200"}
        m = self.module(firmware=v1015, trusted=self.pub, env=env)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "DOWNLOAD",50$', 30)
        m.proc.kill()
        m.proc.wait(timeout=10)
        m.close()
        self.modules.remove(m)
        m = Module(m.device, env=env)
        self.modules.append(m)
        m.wait(r'^\+UPGRADE: "INTERRUPTED",([1-9]\d?)$')
        m.pending.clear()
        end = time.time() + 1.5
        while time.time() < end:
            m._pump(0.01)
        self.assertFalse([x for x in m.pending if "START" in x], m.pending)
        self.assertEqual(len(srv.requests), 1)

    def test_static_url_not_downloaded_again(self):
        pkg = atlib.read(atlib.delta_package(os.path.join(self.tmp, "d.bin"), self.v1015, self.v1016, self.key))
        etag = '"dfota-1016"'
        log = []   # per request: (If-None-Match, status, body bytes)

        def static_file(handler):   # what nginx or any file server does with an ETag
            inm = handler.headers.get("If-None-Match")
            if inm == etag:
                log.append((inm, 304, 0))
                handler.send_response(304)
                handler.send_header("ETag", etag)
                return handler.end_headers()
            log.append((inm, 200, len(pkg)))
            atlib.answer(handler, 200, pkg, [("ETag", etag)])
        srv = self.static()
        srv.routes["/dfota.bin"] = static_file
        m = self.module(trusted=self.pub)
        m.ok('AT+UPGRADE="URL","%s/dfota.bin"' % srv.url)
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 20)
        self.ended(m, 0, quiet=0)
        m.wait(r'^\+UPGRADE: "CODE",27,"not modified"$')   # the check after the update
        self.ended(m, 27)
        self.assertEqual(log, [(None, 200, len(pkg)), (etag, 304, 0)])
        m = self.restart(m)   # the ETag is kept in NV
        m.ok("AT+UPGRADE")
        self.ended(m, 27)
        self.assertEqual(log[2:], [(etag, 304, 0)])
        self.assertEqual(self.revision(m), "1016")
        self.assertRegex(self.last_result(m), r'^\+UPGRADE: "LAST",27,\d+,"V1016"$')

    def test_plain_file_server_not_downloaded_again(self):
        # Python's own file server (no ETag, Last-Modified and If-Modified-Since): the same
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        atlib.delta_package(os.path.join(www, "dfota.bin"), self.v1015, self.v1016, self.key)
        log = []   # per request: (If-Modified-Since, status)

        class Files(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kw):
                super().__init__(*args, directory=www, **kw)

            def log_request(self, code="-", size="-"):
                log.append((self.headers.get("If-Modified-Since"), int(code)))

            def log_message(self, *args):
                pass
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.cleanups.append(httpd.server_close)
        self.cleanups.append(httpd.shutdown)
        m = self.module(trusted=self.pub)
        m.ok('AT+UPGRADE="URL","http://127.0.0.1:%d/dfota.bin"' % httpd.server_address[1])
        m.ok("AT+UPGRADE")
        m.wait(r'^\+UPGRADE: "UPDATED","V1016"$', 20)
        m.wait(r'^\+UPGRADE: "CODE",27,"not modified"$')
        self.ended(m, 27)
        self.assertEqual([x[1] for x in log], [200, 304], log)
        self.assertIsNone(log[0][0])
        self.assertRegex(log[1][0] or "", r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_host_example_from_the_docs(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "at", "examples", "upgrade.py")
        docs = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "at.md")
        code = atlib.read(example).decode()
        block = re.search(r"## A host's upgrade, in Python\n.*?```python\n(.*?)```", atlib.read(docs).decode(), re.S)
        self.assertTrue(block)
        self.assertEqual(block.group(1), code)   # the docs show the file the test runs
        srv = self.static()
        srv.routes["/dfota.bin"] = atlib.read(atlib.delta_package(os.path.join(self.tmp, "d.bin"), self.v1015,
                                                                  self.v1016, self.key))
        m = self.module(trusted=self.pub)
        m.port.close()   # the example is the host now
        r = subprocess.run([sys.executable, example, m.path, srv.url + "/dfota.bin"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(out[0], '+UPGRADE: "START"')
        self.assertEqual(out[-4:], ["RDY", '+UPGRADE: "UPDATED","V1016"', '+UPGRADE: "END",0', "upgraded"])
        # a URL that can never work: refused at once
        r = subprocess.run([sys.executable, example, m.path, "http://999.1.1.1/x"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("+CME ERROR: 50", r.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[1:])
