"""The console's JSON API (docs/server.md "The web console"): every endpoint
with success, bad input, no session, another user's objects, no CSRF token,
expired and replayed sessions. Run by ctest (console_api)."""
import hashlib
import http.client
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from consolelib import FOTA_SERVER, FOTAPACK, INITIAL, PG_STATE, Client, Server, images, luhn_imei, run  # noqa: E402

IMEI1 = luhn_imei("86123456789012")
IMEI2 = luhn_imei("86123456789013")


def doc_codes():
    """The table of docs/server.md "Console error codes": {code: (args, English)}."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "docs", "server.md"), encoding="utf-8") as f:
        text = f.read()
    rows = text[text.index("| code | args | English |"):].split("\n\n")[0].splitlines()[2:]
    out = {}
    for row in rows:
        code, args, english = [x.strip() for x in row.strip()[1:-1].split(" | ")]
        out[code.strip("`")] = (tuple(x.strip("` ") for x in args.split(",") if x.strip()),
                                english.replace("\\|", "|").replace("&lt;", "<"))
    return out


DOC_CODES = doc_codes()


def check_code(t, j):
    """An error answer's shape: a documented code, its args, the English text made from them."""
    t.assertIn(j.get("code"), DOC_CODES, j)
    want, text = DOC_CODES[j["code"]]
    got = j.get("args", {})
    t.assertEqual(sorted(got), sorted(want), j)
    for k, v in got.items():
        text = text.replace("{%s}" % k, v)
    t.assertEqual(j["error"], text[:255], j)


class Auth(unittest.TestCase):
    def setUp(self):
        self.s = Server()

    def tearDown(self):
        self.s.close()

    def test_login_password_logout(self):
        c = Client(self.s)
        self.assertEqual(c.req("GET", "projects")[0], 401)
        st, j = c.req("GET", "me")
        self.assertEqual((st, j["user"]), (200, None))
        self.assertEqual(c.login("alice", "wrong-password")[0], 401)
        t0 = time.time()
        self.assertEqual(c.login("nobody", INITIAL)[0], 401)
        t_unknown = time.time() - t0
        t0 = time.time()
        self.assertEqual(c.login("bob", "wrong-password")[0], 401)
        t_known = time.time() - t0
        self.assertGreater(t_unknown, t_known / 4)   # an unknown name costs a hash too
        self.assertEqual(c.req("POST", "login", {"user": "alice"})[0], 400)
        self.assertEqual(c.req("POST", "login", {"user": 5, "password": INITIAL})[0], 400)
        self.assertEqual(c.req("POST", "login", raw=b"not json", ctype="application/json")[0], 400)
        st, j = c.login("alice", INITIAL)
        self.assertEqual(st, 200)
        self.assertTrue(j["must_change"])
        setc = c.last_headers["Set-Cookie"]
        for part in ("HttpOnly", "SameSite=Strict", "Path=/console"):
            self.assertIn(part, setc)
        self.assertNotIn("Secure", setc)   # http here
        self.assertEqual(c.req("GET", "projects")[0], 403)   # initial password first
        self.assertEqual(c.req("POST", "password", {"old": INITIAL, "new": "another-pass"}, csrf=False)[0], 403)
        self.assertEqual(c.req("POST", "password", {"old": INITIAL, "new": "short"})[0], 400)
        self.assertEqual(c.req("POST", "password", {"old": INITIAL, "new": INITIAL})[0], 400)
        self.assertEqual(c.req("POST", "password", {"old": "wrong-pass-0", "new": "another-pass"})[0], 403)
        self.assertEqual(c.req("POST", "password", {"old": INITIAL})[0], 400)
        st, j = c.req("POST", "password", {"old": INITIAL, "new": "another-pass"})
        self.assertEqual((st, j["must_change"]), (200, False))
        self.assertEqual(c.req("GET", "projects")[0], 200)
        # the old password no longer works, the new one does
        self.assertEqual(Client(self.s).login("alice", INITIAL)[0], 401)
        self.assertEqual(Client(self.s).login("alice", "another-pass")[0], 200)
        # logout; the same cookie replayed afterwards is refused
        cookie = c.cookie
        self.assertEqual(c.req("POST", "logout", {}, csrf=False)[0], 403)
        self.assertEqual(c.req("POST", "logout", {})[0], 200)
        c.cookie = cookie
        self.assertEqual(c.req("GET", "projects")[0], 401)
        c.cookie = "fota_session=" + "0" * 64
        self.assertEqual(c.req("GET", "projects")[0], 401)
        c.cookie = "fota_session=../../etc"
        self.assertEqual(c.req("GET", "projects")[0], 401)

    def test_hashes_at_once_bounded(self):
        # 12 HTTP threads, 12 logins at once: at most 2 Argon2id runs (64 MiB
        # each) go on together, the others are told to come back (503)
        self.s.close()
        self.s = Server("--threads", "12")
        go, out = threading.Barrier(12), []

        def one(i):
            c = Client(self.s)
            go.wait()
            st = c.login("nobody%d" % i, INITIAL)[0]
            out.append((st, c.last_headers.get("Retry-After")))

        ts = [threading.Thread(target=one, args=(i,)) for i in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(len(out), 12)
        self.assertLessEqual({st for st, _ in out}, {401, 503})
        busy = [ra for st, ra in out if st == 503]
        self.assertTrue(busy, out)
        self.assertEqual(set(busy), {"1"})
        self.assertEqual(Client(self.s).login("alice", INITIAL)[0], 200)   # every run ended

    def test_throttle_per_user_and_address(self):
        c = Client(self.s)
        for _ in range(3):
            self.assertEqual(c.login("bob", "wrong-password")[0], 401)
        self.assertEqual(c.login("bob", "wrong-password")[0], 429)   # bob from this address waits a second
        self.assertEqual(c.login("bob", INITIAL)[0], 429)   # right password, too soon
        self.assertEqual(c.login("alice", INITIAL)[0], 200)  # another user is not locked out
        for i in range(20):
            c.login("ghost%d" % i, "wrong-password")
        self.assertEqual(c.login("alice", INITIAL)[0], 429)  # the address now is

    def test_stranger_cannot_lock_out(self):
        """100 wrong passwords for alice from 127.0.0.2 slow that address down (429 with the seconds to wait)
        and cost at most a few Argon2id runs; alice's right password from 127.0.0.1 still logs her in."""
        def login_from(addr, password):
            c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=60, source_address=(addr, 0))
            c.request("POST", "/console/api/login", body=json.dumps({"user": "alice", "password": password}),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            j = json.loads(r.read())
            c.close()
            return r.status, j

        got = [login_from("127.0.0.2", "wrong-password") for _ in range(100)]
        self.assertEqual([st for st, _ in got[:3]], [401, 401, 401])
        throttled = [j for st, j in got if st == 429]
        self.assertGreater(len(throttled), 90)
        for j in throttled[:3]:
            check_code(self, j)
            self.assertEqual(j["code"], "login_throttled")
            self.assertGreaterEqual(int(j["args"]["seconds"]), 1)
        self.assertEqual(login_from("127.0.0.2", INITIAL)[0], 429)   # that address waits, even with the password
        self.assertEqual(login_from("127.0.0.1", INITIAL)[0], 200)   # the owner's does not

    def test_users_admin(self):
        """The first account is the admin: adds users (an initial password to change), resets passwords,
        disables and enables accounts; the others get 403 admin_only."""
        a = Client(self.s).ready("alice")
        b = Client(self.s).ready("bob")
        self.assertEqual((a.req("GET", "me")[1]["admin"], b.req("GET", "me")[1]["admin"]), (True, False))
        for path, body in (("users", None), ("users", {"user": "carol"}), ("users/reset", {"user": "alice"}),
                           ("users/disable", {"user": "alice", "disabled": True})):
            st, j = b.req("POST" if body else "GET", path, body)
            self.assertEqual((st, j["code"]), (403, "admin_only"), path)
        st, j = a.req("POST", "users", {"user": "carol"})
        self.assertEqual(st, 201, j)
        carol_pass = j["password"]
        self.assertEqual(a.req("POST", "users", {"user": "carol"})[1]["code"], "user_exists")
        self.assertEqual(a.req("POST", "users", {"user": "bad name"})[1]["code"], "user_invalid")
        c = Client(self.s)
        st, j = c.login("carol", carol_pass)
        self.assertEqual((st, j["must_change"], j["admin"]), (200, True, False))
        rows = {u["user"]: u for u in a.req("GET", "users")[1]["items"]}
        self.assertEqual(sorted(rows), ["alice", "bob", "carol"])
        self.assertEqual((rows["alice"]["admin"], rows["bob"]["admin"], rows["carol"]["must_change"]), (True, False, True))
        self.assertGreater(rows["carol"]["created"], 0)
        # reset: bob's session ends, the new password must be changed
        st, j = a.req("POST", "users/reset", {"user": "bob"})
        self.assertEqual(st, 200, j)
        self.assertEqual(b.req("GET", "projects")[0], 401)
        self.assertTrue(Client(self.s).login("bob", j["password"])[1]["must_change"])
        self.assertEqual(a.req("POST", "users/reset", {"user": "nobody"})[1]["code"], "user_unknown")
        # disable: carol is out now and cannot log in; enabled again she can
        self.assertEqual(a.req("POST", "users/disable", {"user": "carol", "disabled": True}),
                         (200, {"user": "carol", "disabled": True}))
        self.assertEqual(c.req("GET", "me")[1]["user"], None)
        st, j = Client(self.s).login("carol", carol_pass)
        self.assertEqual((st, j["code"]), (403, "login_disabled"))
        self.assertTrue([u for u in a.req("GET", "users")[1]["items"] if u["user"] == "carol"][0]["disabled"])
        self.assertEqual(a.req("POST", "users/disable", {"user": "alice", "disabled": True})[1]["code"], "user_self")
        self.assertEqual(a.req("POST", "users/disable", {"user": "nobody", "disabled": True})[1]["code"], "user_unknown")
        self.assertEqual(a.req("POST", "users/disable", {"user": "carol"})[1]["code"], "field_invalid")
        self.assertEqual(a.req("POST", "users/disable", {"user": "carol", "disabled": False})[0], 200)
        self.assertEqual(Client(self.s).login("carol", carol_pass)[0], 200)
        self.assertIn("carol\tmust change password", self.s.admin("user", "list").stdout.decode())   # the CLI's view

    def test_cli_reset_ends_sessions(self):
        c = Client(self.s).ready("alice")
        self.s.admin("user", "passwd", "--name", "alice", "--password", "reset-pass-1")
        self.assertEqual(c.req("GET", "projects")[0], 401)
        st, j = Client(self.s).login("alice", "reset-pass-1")
        self.assertTrue(j["must_change"])
        self.assertIn("alice\tmust change password", self.s.admin("user", "list").stdout.decode())
        self.assertEqual(self.s.admin("user", "add", "--name", "alice", "--password", "x" * 9, check=False).returncode, 2)
        self.assertEqual(self.s.admin("user", "add", "--name", "carol", "--password", "888888", check=False).returncode, 2)


class Expiry(unittest.TestCase):
    def test_idle(self):
        # 3 s: the idle clock restarts when a request arrives, and ready()'s
        # password change hashes twice (slow on a loaded machine) before the
        # first GET
        s = Server("--console-idle-s", "3")
        try:
            c = Client(s).ready("alice")
            self.assertEqual(c.req("GET", "projects")[0], 200)
            time.sleep(3.5)
            self.assertEqual(c.req("GET", "projects")[0], 401)
            self.assertEqual(c.req("GET", "projects")[0], 401)   # replayed: still refused
        finally:
            s.close()

    def test_absolute(self):
        # Timed from both sides of the login, so a slow machine (password
        # hashing under load) cannot make a live session look expired.
        s = Server("--console-max-age-s", "4")
        try:
            t0 = time.monotonic()   # the session starts after this ...
            c = Client(s).ready("alice")
            t1 = time.monotonic()   # ... and before this
            checked = 0
            while time.monotonic() - t0 < 3.0:   # in use all the time, still ends
                st = c.req("GET", "projects")[0]
                if time.monotonic() - t0 < 4.0:   # answered within its 4 s: it was alive
                    self.assertEqual(st, 200)
                    checked += 1
                time.sleep(0.4)
            self.assertGreater(checked, 0)
            time.sleep(max(0.0, t1 + 5.0 - time.monotonic()))   # a second past its end
            self.assertEqual(c.req("GET", "projects")[0], 401)
        finally:
            s.close()


class Objects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.a = Client(cls.s).ready("alice")
        cls.b = Client(cls.s).ready("bob")
        cls.old, cls.new = images(cls.s.dir)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def up(self, c, name, data, into=None):
        st, j = c.upload(name, data, into)
        self.assertEqual(st, 200, j)
        return j["id"]

    def release(self, core, script, core_ver, version):
        cid = self.up(self.a, "core.bin", core)
        sid = self.up(self.a, "main.lua", script)
        self.up(self.a, "lib.lua", b"-- lib\n", sid)
        st, j = self.a.req("POST", "firmware", {"kind": "luatos", "project": "alpha", "bsp": "EC618",
                                                "core_version": core_ver, "version": version, "core": cid,
                                                "script": sid})
        self.assertEqual(st, 201, j)
        return j

    def test_1_projects(self):
        a, b = self.a, self.b
        st, j = a.req("POST", "projects", {"name": "alpha", "family": "Air780E"})
        self.assertEqual(st, 201, j)
        self.assertEqual(len(j["key"]), 32)
        type(self).key = j["key"]
        self.assertEqual(a.req("POST", "projects", {"name": "alpha"})[0], 409)
        self.assertEqual(a.req("POST", "projects", {})[0], 400)
        self.assertEqual(a.req("POST", "projects", {"name": 7})[0], 400)
        self.assertEqual(a.req("POST", "projects", {"name": "bad\tname"})[0], 400)   # a control character
        self.assertEqual(a.req("POST", "projects", {"name": "模" * 65})[0], 400)
        self.assertEqual(a.req("POST", "projects", {"name": "x", "family": "a b"})[0], 400)
        self.assertEqual(a.req("POST", "projects", {"name": "beta"}, csrf=False)[0], 403)
        self.assertEqual(Client(self.s).req("POST", "projects", {"name": "beta"})[0], 401)
        st, j = b.req("POST", "projects", {"name": "bobs", "key": "BobKey1"})
        self.assertEqual(st, 201)
        st, j = a.req("GET", "projects")
        self.assertEqual([p["name"] for p in j["items"]], ["alpha"])
        self.assertEqual(j["items"][0]["family"], "Air780E")
        # the platform's names: UTF-8 intact through the API, unique per account (not across accounts)
        st, j = b.req("POST", "projects", {"name": "Air7XXE标准模块"})
        self.assertEqual(st, 201, j)
        self.assertEqual(j["name"], "Air7XXE标准模块")
        self.assertEqual(b.req("POST", "projects", {"name": "Air7XXE标准模块"})[0], 409)
        self.assertEqual(b.req("GET", "config?project=" + urllib.parse.quote("Air7XXE标准模块"))[0], 200)
        self.assertEqual(a.req("GET", "config?project=" + urllib.parse.quote("Air7XXE标准模块"))[0], 404)
        self.assertEqual(a.req("POST", "projects", {"name": "Air7XXE标准模块"})[0], 201)   # alice's own
        self.assertEqual([p["name"] for p in b.req("GET", "projects")[1]["items"]], ["Air7XXE标准模块", "bobs"])
        # one implementation behind the CLI too: it sees both, with their owners
        out = self.s.admin("project", "list").stdout.decode()
        self.assertIn("alpha\t%s\talice" % self.key, out)
        self.assertIn("bobs\tBobKey1\tbob", out)
        self.assertIn("Air7XXE标准模块\t", out)

    def test_2_uploads(self):
        a, b = self.a, self.b
        self.assertEqual(a.upload("x.bin", b"data", None)[0], 200)
        st, j = a.req("POST", "upload?name=x.bin", raw=b"data", csrf=False, ctype="application/octet-stream")
        self.assertEqual(st, 403)
        self.assertEqual(Client(self.s).upload("x.bin", b"data")[0], 401)
        self.assertEqual(a.req("POST", "upload?name=x.bin", raw=b"data", ctype="text/plain")[0], 415)
        self.assertEqual(a.req("POST", "upload?name=x.bin", raw=b"data")[0], 415)
        self.assertEqual(a.req("POST", "projects", raw=b'{"name":"form"}', ctype="application/x-www-form-urlencoded")[0], 415)
        self.assertEqual(a.upload("../x", b"data")[0], 400)
        self.assertEqual(a.upload(".hidden", b"data")[0], 400)
        self.assertEqual(a.upload("x.bin", b"")[0], 400)
        # over the limit: refused on the header, before the body is sent
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        c.putrequest("POST", "/console/api/upload?name=big.bin")
        c.putheader("Cookie", a.cookie)
        c.putheader("X-CSRF-Token", a.csrf)
        c.putheader("Content-Type", "application/octet-stream")
        c.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
        c.endheaders()
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        # a JSON body over its limit too
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        c.putrequest("POST", "/console/api/projects")
        c.putheader("Cookie", a.cookie)
        c.putheader("X-CSRF-Token", a.csrf)
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(300 * 1024))
        c.endheaders()
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        # cut mid-body: nothing of it stays on disk
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        c.putrequest("POST", "/console/api/upload?name=cut.bin")
        for k, v in (("Cookie", a.cookie), ("X-CSRF-Token", a.csrf), ("Content-Type", "application/octet-stream"),
                     ("Content-Length", "100000")):
            c.putheader(k, v)
        c.endheaders()
        c.send(b"x" * 1000)
        time.sleep(0.3)   # (a close arriving with the data is seen at the 30 s connection timeout)
        c.close()
        time.sleep(0.5)
        ups = os.path.join(self.s.data, "console-uploads")
        found = [f for _, _, fs in os.walk(ups) for f in fs if f == "cut.bin"]
        self.assertEqual(found, [])
        self.assertEqual(len(os.listdir(ups)), len([d for d in os.listdir(ups) if os.listdir(os.path.join(ups, d))]))
        mine = self.up(a, "one.bin", b"1")
        self.assertEqual(a.upload("one.bin", b"2", mine)[0], 409)   # same name twice
        self.assertEqual(b.upload("two.bin", b"2", mine)[0], 404)   # alice's upload
        self.assertEqual(a.upload("two.bin", b"2", "f" * 32)[0], 404)

    def test_3_firmware(self):
        a, b = self.a, self.b
        r1 = self.release(self.old, b'VERSION = "1.0.0"\n', "V1103", "1.0.0")
        self.assertEqual((r1["name"], r1["core"], r1["version"], r1["size"]), ("alpha_LuatOS-SoC_EC618", 1103, "1.0.0", len(self.old)))
        self.release(self.new, b'VERSION = "1.0.1"\n', "V1104", "1.0.1")
        st, j = a.req("GET", "firmware?project=alpha")
        self.assertEqual([(f["core"], f["version"]) for f in j["items"]], [(1103, "1.0.0"), (1104, "1.0.1")])
        cid = self.up(a, "core.bin", self.old)
        sid = self.up(a, "main.lua", b"x = 1\n")
        base = {"kind": "luatos", "project": "alpha", "bsp": "EC618", "core_version": "V1105", "version": "1.0.2",
                "core": cid, "script": sid}
        for bad, status in ((dict(kind="other"), 400), (dict(version="1.0"), 400), (dict(core_version="x"), 400),
                            (dict(core=None), 400), (dict(script=None), 400), (dict(core=5), 400),
                            (dict(core="0" * 32), 404), (dict(project="bobs"), 404), (dict(project="nope"), 404),
                            (dict(core_version="V1103", version="1.0.0"), 409)):
            body = dict(base)
            body.update(bad)
            body = {k: v for k, v in body.items() if v is not None}
            self.assertEqual(a.req("POST", "firmware", body)[0], status, bad)
        # bob: alice's project, or his own project with alice's uploads
        self.assertEqual(b.req("GET", "firmware?project=alpha")[0], 404)
        self.assertEqual(b.req("POST", "firmware", base)[0], 404)
        body = dict(base, project="bobs")
        self.assertEqual(b.req("POST", "firmware", body)[0], 404)
        self.assertEqual(b.req("GET", "firmware")[1]["items"], [])
        # an AT firmware image
        img = self.up(a, "at.bin", self.new)
        st, j = a.req("POST", "firmware", {"kind": "at", "project": "alpha", "model": "Air780E", "bsp": "EC618",
                                           "core_version": "V1016", "core": img})
        self.assertEqual((st, j.get("name")), (201, "Air780E_AT_EC618"), j)
        # a prebuilt AT delta package V1015 -> V1016 (fotapack build), and one that is not a package
        d = tempfile.mkdtemp(dir=self.s.dir)
        paths = [os.path.join(d, n) for n in ("V1015.bin", "V1016.bin", "dfota.bin")]
        for path, data in zip(paths, (self.old, self.new)):
            with open(path, "wb") as f:
                f.write(data)
        subprocess.run([FOTAPACK, "build", "--project", "at", "--bsp", "EC618", "--to-core", paths[1],
                        "--core-version", "V1016", "--from-core", paths[0], "--from-core-version", "V1015",
                        "--version", "0.0.0", "-o", paths[2]], check=True, stdout=subprocess.DEVNULL)
        with open(paths[2], "rb") as f:
            pkg = self.up(a, "dfota.bin", f.read())
        st, j = a.req("POST", "firmware", {"kind": "package", "project": "alpha", "model": "Air780E",
                                           "bsp": "EC618", "package": pkg})
        self.assertEqual((st, j.get("name")), (201, "Air780E_AT_EC618"), j)
        self.assertEqual(b.req("POST", "firmware", {"kind": "package", "project": "bobs", "model": "Air780E",
                                                    "bsp": "EC618", "package": pkg})[0], 404)
        pkg = self.up(a, "dfota.bin", b"not a package")
        self.assertEqual(a.req("POST", "firmware", {"kind": "package", "project": "alpha", "model": "Air780E",
                                                    "bsp": "EC618", "package": pkg})[0], 400)

    def test_4_config_devices_log(self):
        a, b = self.a, self.b
        fw = "alpha_LuatOS-SoC_EC618"
        cfg = {"project": "alpha", "firmware": fw, "all": False, "imeis": [IMEI1], "any_from": True, "enabled": True}
        self.assertEqual(a.req("POST", "config", dict(cfg, imeis=["123"]))[0], 400)
        self.assertEqual(a.req("POST", "config", dict(cfg, imeis=[]))[0], 400)
        self.assertEqual(a.req("POST", "config", dict(cfg, imeis="x"))[0], 400)
        self.assertEqual(a.req("POST", "config", dict(cfg, enabled="yes"))[0], 400)
        self.assertEqual(a.req("POST", "config", dict(cfg, any_from=False, from_=None))[0], 400)
        self.assertEqual(a.req("POST", "config", dict(cfg, firmware="nope"))[0], 404)
        self.assertEqual(a.req("POST", "config", dict(cfg, version="9.9.9"))[0], 404)
        self.assertEqual(b.req("POST", "config", cfg)[0], 404)
        self.assertEqual(a.req("POST", "config", cfg, csrf=False)[0], 403)
        st, j = a.req("POST", "config", cfg)
        self.assertEqual(st, 200, j)
        st, j = a.req("GET", "config?project=alpha")
        c = j["items"][0]
        self.assertEqual((c["firmware"], c["core"], c["version"], c["all"], c["imeis"], c["enabled"]),
                         (fw, 1104, "1.0.1", False, [IMEI1], True))
        self.assertEqual(b.req("GET", "config?project=alpha")[0], 404)
        self.assertEqual(a.req("GET", "config")[0], 400)
        # devices ask: the listed one gets the delta (after "please wait"), the other "latest" (27)
        for _ in range(100):
            st, body = self.s.device(self.key, fw, "1103.1.0", IMEI1)
            if st == 200:
                break
            self.assertIn(b'"code":43', body)
            time.sleep(0.1)
        self.assertEqual(st, 200)
        st, body = self.s.device(self.key, fw, "1103.1.0", IMEI2)
        self.assertIn(b'"code":27', body)
        time.sleep(0.3)   # log rows are written in batches
        st, j = a.req("GET", "devices")
        got = {d["imei"]: d for d in j["items"]}
        self.assertEqual(set(got), {IMEI1, IMEI2})
        self.assertEqual((got[IMEI1]["version"], got[IMEI1]["banned"], got[IMEI1]["last_code"]), ("1103.1.0", False, 0))
        self.assertGreater(got[IMEI1]["last"], 0)
        st, j = a.req("GET", "devices?imei=" + IMEI2[-6:])
        self.assertEqual([d["imei"] for d in j["items"]], [IMEI2])
        self.assertEqual(a.req("GET", "devices?imei=abc")[0], 400)
        self.assertEqual(b.req("GET", "devices")[1]["items"], [])
        st, j = a.req("GET", "log?imei=" + IMEI1)
        self.assertEqual(st, 200, j)
        codes = [r["code"] for r in j["items"]]
        self.assertEqual(codes[0], 0)   # newest first
        self.assertIn(43, codes)
        self.assertTrue(all(x["ts"] >= y["ts"] for x, y in zip(j["items"], j["items"][1:])))
        self.assertIn("package", j["items"][0]["meaning"])
        today = time.strftime("%Y-%m-%d")
        self.assertEqual(len(a.req("GET", "log?imei=%s&date=%s" % (IMEI1, today))[1]["items"]), len(codes))
        self.assertEqual(a.req("GET", "log?imei=%s&date=2001-01-01" % IMEI1)[1]["items"], [])
        self.assertEqual(a.req("GET", "log?imei=%s&date=yesterday" % IMEI1)[0], 400)
        self.assertEqual(a.req("GET", "log?imei=123")[0], 400)
        self.assertEqual(a.req("GET", "log")[0], 400)
        self.assertEqual(b.req("GET", "log?imei=" + IMEI1)[0], 404)
        # ban, unban (bob cannot)
        self.assertEqual(b.req("POST", "devices/ban", {"imei": IMEI1})[0], 404)
        self.assertEqual(a.req("POST", "devices/ban", {"imei": IMEI1})[0], 200)
        self.assertTrue(a.req("GET", "devices?imei=" + IMEI1)[1]["items"][0]["banned"])
        self.assertIn(b'"code":40', self.s.device(self.key, fw, "1103.1.0", IMEI1)[1])
        self.assertEqual(b.req("POST", "devices/unban", {"imei": IMEI1})[0], 404)
        self.assertEqual(a.req("POST", "devices/unban", {"imei": IMEI1}, csrf=False)[0], 403)
        self.assertEqual(a.req("POST", "devices/unban", {"imei": "12345"})[0], 400)
        self.assertEqual(a.req("POST", "devices/unban", {})[0], 400)
        self.assertEqual(a.req("POST", "devices/unban", {"imei": IMEI1})[0], 200)
        self.assertFalse(a.req("GET", "devices?imei=" + IMEI1)[1]["items"][0]["banned"])
        # placing a device: in one's own project only, never taking another's
        imei3 = luhn_imei("86123456789014")
        # it asked with an unknown key first (not registered): whoever places it
        # later does not read what it asked before
        self.assertIn(b'"code":25', self.s.device("NoSuchKey123", fw, "1103.1.0", imei3)[1])
        time.sleep(0.3)
        self.assertEqual(b.req("POST", "devices/add", {"imei": IMEI1, "project": "bobs"})[0], 409)
        self.assertEqual(b.req("POST", "devices/add", {"imei": imei3, "project": "alpha"})[0], 404)
        self.assertEqual(b.req("POST", "devices/add", {"imei": imei3, "project": "bobs"})[0], 200)
        self.assertEqual([d["imei"] for d in b.req("GET", "devices")[1]["items"]], [imei3])
        self.assertEqual(b.req("GET", "log?imei=" + imei3), (200, {"items": []}))
        out = run(FOTA_SERVER, "log", "--db", self.s.db, "--imei", imei3).stdout.decode()
        self.assertIn("NoSuchKey123", out)   # the admin still sees it
        # and the CLI shows the same configuration
        out = self.s.admin("config", "show", "--project", "alpha").stdout.decode()
        self.assertIn("devices: %s" % IMEI1, out)

    def test_5_delta(self):
        a, b = self.a, self.b
        o = self.up(a, "old.bin", self.old)
        n = self.up(a, "new.bin", self.new)
        self.assertEqual(a.req("POST", "delta", {"old": o})[0], 400)
        self.assertEqual(a.req("POST", "delta", {"old": o, "new": 3})[0], 400)
        self.assertEqual(b.req("POST", "delta", {"old": o, "new": n})[0], 404)
        self.assertEqual(a.req("POST", "delta", {"old": o, "new": n}, csrf=False)[0], 403)
        st, j = a.req("POST", "delta", {"old": o, "new": n})
        self.assertEqual(st, 202, j)
        for _ in range(300):
            if j["state"] != "running":
                break
            time.sleep(0.1)
            st, j = a.req("GET", "delta?id=" + j["id"])
        self.assertEqual(j["state"], "done")
        self.assertEqual((j["old_size"], j["new_size"]), (len(self.old), len(self.new)))
        self.assertLess(j["delta_size"], len(self.new) // 4)
        self.assertEqual(b.req("GET", "delta?id=" + j["id"])[0], 404)
        self.assertEqual(b.req("GET", "delta/file?id=" + j["id"])[0], 404)
        self.assertEqual(a.req("GET", "delta?id=nope")[0], 404)
        st, delta = a.req("GET", "delta/file?id=" + j["id"])
        self.assertEqual((st, len(delta)), (200, j["delta_size"]))
        d = tempfile.mkdtemp(dir=self.s.dir)
        for name, data in (("old", self.old), ("delta", delta)):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        subprocess.run([FOTAPACK, "patch", os.path.join(d, "old"), os.path.join(d, "delta"),
                        os.path.join(d, "out")], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "out"), "rb") as f:
            self.assertEqual(f.read(), self.new)
        # the delta tool's result saved (issue 30): as an AT delta package (the bare delta is none: it is
        # wrapped and signed here) and as a release of the new image; bob has no job to save
        save = {"project": "alpha", "as": "package", "model": "Air780E", "bsp": "EC618", "from": "V1015",
                "core_version": "V1016"}
        self.assertEqual(b.req("POST", "delta/save", save)[1].get("code"), "delta_unknown")
        self.assertEqual(a.req("POST", "delta/save", dict(save, **{"as": "zip"}))[1].get("code"), "delta_save_fields")
        self.assertEqual(a.req("POST", "delta/save", dict(save, **{"from": "V1017"}))[1].get("code"),
                         "core_version_invalid")
        st, saved = a.req("POST", "delta/save", dict(save, id=j["id"]))
        self.assertEqual((st, saved.get("name"), saved.get("release_added")), (201, "Air780E_AT_EC618", False), saved)
        st, saved = a.req("POST", "delta/save", {"project": "alpha", "as": "release", "kind": "at", "model": "Air780E",
                                                 "bsp": "EC618", "core_version": "V1018"})
        self.assertEqual(st, 201, saved)
        fws = {(f["name"], f["core"], f["has_core"]): f["id"] for f in a.req("GET", "firmware?project=alpha")[1]["items"]}
        self.assertIn(("Air780E_AT_EC618", 1018, True), fws)
        # the package is served as built for base V1015 of the V1016 release (test_3's AT image)
        prebuilt = "fw%d-from1015-prebuilt.fota" % fws[("Air780E_AT_EC618", 1016, True)]
        self.assertIn(prebuilt, os.listdir(os.path.join(self.s.data, "cache")))

    def test_6_misc(self):
        a = self.a
        self.assertEqual(a.req("GET", "nothing")[0], 404)
        self.assertEqual(a.req("PUT", "projects", raw=b"{}")[0], 405)
        self.assertEqual(a.req("GET", "/console/")[0], 200)
        self.assertIn("default-src 'self'", a.last_headers["Content-Security-Policy"])
        self.assertEqual(a.req("GET", "/console/app.js")[0], 200)
        self.assertEqual(a.req("GET", "/console/missing.js")[0], 404)
        self.assertEqual(a.req("POST", "/console/app.js", {})[0], 405)
        self.assertEqual(a.req("GET", "projects?" + "&".join("p%d=1" % i for i in range(20)))[0], 400)
        self.assertEqual(a.req("GET", "/console")[0], 302)
        # the device path is untouched
        st, body = self.s.device("nokey", "x", "1.1.1", IMEI1)
        self.assertIn(b'"code":25', body)


    def test_7_rollout(self):
        a, b = self.a, self.b
        fw = "alpha_LuatOS-SoC_EC618"
        q = "rollout?project=alpha&firmware=" + fw
        st, j = a.req("GET", q)
        self.assertEqual((st, j["state"]), (200, "none"))
        self.assertEqual(b.req("GET", q)[0], 404)   # alice's project: not bob's to see
        self.assertEqual(a.req("GET", "rollout?project=alpha&firmware=nope")[0], 404)
        start = {"project": "alpha", "firmware": fw, "action": "start", "waves": "10,100", "max_failure": "20",
                 "min_outcomes": "3"}
        self.assertEqual(b.req("POST", "rollout", start)[0], 404)
        self.assertEqual(a.req("POST", "rollout", start, csrf=False)[0], 403)
        for bad in ({"action": "launch"}, {"waves": "50,10"}, {"every": "1w"}, {"max_failure": "101"},
                    {"min_outcomes": "0"}, {"waves": 10}, {"action": "status"}, {"project": None}):
            st, j = a.req("POST", "rollout", dict(start, **bad))
            self.assertEqual(st, 400, (bad, j))
        st, j = a.req("POST", "rollout", start)
        self.assertEqual(st, 200, j)
        self.assertEqual((j["state"], j["wave"], j["share_percent"], len(j["waves"])), ("running", 1, 10, 2))
        self.assertEqual(a.req("POST", "rollout", start)[0], 409)   # one live rollout per configuration
        self.assertEqual(a.req("POST", "rollout", dict(start, action="resume"))[0], 409)   # not paused
        self.assertEqual(a.req("POST", "rollout", dict(start, action="pause"))[1]["state"], "paused")
        st, j = a.req("POST", "rollout", dict(start, action="resume"))
        self.assertEqual((st, j["state"]), (200, "running"))
        st, j = a.req("POST", "rollout", dict(start, action="advance"))
        self.assertEqual((st, j["wave"], j["share_percent"]), (200, 2, 100))
        self.assertEqual(a.req("POST", "rollout", dict(start, action="advance"))[0], 409)   # the last wave
        # the CLI sees the same rollout
        out = run(FOTA_SERVER, "rollout", "status", "--db", self.s.db, "--project", "alpha",
                  "--firmware", fw).stdout.decode()
        self.assertEqual(json.loads(out)["id"], j["id"])
        self.assertEqual(a.req("POST", "rollout", dict(start, action="abort"))[1]["state"], "aborted")
        self.assertEqual(a.req("GET", q)[1]["state"], "aborted")

    def test_8_packages(self):
        """Vendor packages (docs/server.md "Vendor packages"): a Luatools-named upload added from the name's guess,
        listed, refused whole (nothing stored), corrected by hand, removed; bob sees and removes none of them."""
        a, b = self.a, self.b
        name = "alpha_1105.1.2_LuatOS-SoC_EC618.bin"
        st, j = a.req("GET", "packages/guess?name=" + name)
        self.assertEqual((st, j), (200, {"known": True, "firmware": "alpha_LuatOS-SoC_EC618", "to": "1105.1.2",
                                         "from": ""}))
        st, j = a.req("GET", "packages/guess?name=dfota_final_Air780E_V1015_V1016.bin")
        self.assertEqual(j, {"known": True, "firmware": "", "to": "V1016", "from": "V1015"})
        self.assertEqual(a.req("GET", "packages/guess?name=core.bin")[1],
                         {"known": False, "firmware": "", "to": "", "from": ""})
        self.assertEqual(a.req("GET", "packages/guess")[0], 400)
        data = os.urandom(3000)
        up = self.up(a, name, data)
        unnamed = self.up(a, "core.bin", data)
        big = self.up(a, name, os.urandom(480 * 1024 + 1))
        vendor_dir = os.path.join(self.s.data, "vendor")
        # refused whole: the message says why, nothing is stored
        for body, status, msg in (({"upload": unnamed, "from": "V1103"}, 400, "give the firmware name"),
                                  ({"upload": big, "from": "V1103"}, 400, "larger than 491520 bytes"),
                                  ({"upload": up, "from": "V1103", "max_size": 2999}, 400, "larger than 2999"),
                                  ({"upload": up}, 400, "give the base versions"),
                                  ({"upload": up, "from": "V1105"}, 400, "target's own core"),
                                  ({"upload": up, "from": "V1103", "to": "1105.1"}, 400, "target 1105.1"),
                                  ({"upload": up, "from": "V1103", "max_size": "1"}, 400, "max_size"),
                                  ({"upload": up, "from": 1103}, 400, "from: wrong type"),
                                  ({"upload": None, "from": "V1103"}, 400, "upload"),
                                  ({"upload": "f" * 32, "from": "V1103"}, 404, "upload"),
                                  ({"upload": up, "from": "V1103", "project": "nope"}, 404, "nope")):
            st, j = a.req("POST", "packages", dict({"project": "alpha"}, **body))
            self.assertEqual(st, status, (body, j))
            self.assertIn(msg, j["error"])
            check_code(self, j)
        self.assertEqual(b.req("POST", "packages", {"project": "alpha", "upload": up, "from": "V1103"})[0], 404)
        bobs = self.up(b, name, data)
        self.assertEqual(b.req("POST", "packages", {"project": "alpha", "upload": bobs, "from": "V1103"})[0], 404)
        self.assertEqual(a.req("POST", "packages", {"project": "alpha", "upload": up, "from": "V1103"},
                               csrf=False)[0], 403)
        self.assertEqual(a.req("GET", "packages?project=alpha"), (200, {"items": []}))
        self.assertFalse(os.path.isdir(vendor_dir) and os.listdir(vendor_dir))
        # firmware and target from the file's name, the bases given
        st, j = a.req("POST", "packages", {"project": "alpha", "upload": up, "firmware": "", "from": "V1103,V1104"})
        self.assertEqual(st, 201, j)
        sha = hashlib.sha256(data).hexdigest()
        self.assertEqual({k: j[k] for k in ("project", "firmware", "core", "version", "bases", "size", "sha256",
                                            "file_name", "release_added")},
                         {"project": "alpha", "firmware": "alpha_LuatOS-SoC_EC618", "core": 1105, "version": "1.0.2",
                          "bases": ["V1103", "V1104"], "size": len(data), "sha256": sha, "file_name": name,
                          "release_added": True})
        first = j["id"]
        st, j = a.req("POST", "packages", {"project": "alpha", "upload": up, "from": "V1104"})
        self.assertEqual(st, 409, j)   # base V1104 of that release is served already
        # an unnamed file, every field given by the user
        st, j = a.req("POST", "packages", {"project": "alpha", "upload": unnamed, "firmware": "Air780E_AT_EC618",
                                           "to": "V1017", "from": "any"})
        self.assertEqual((st, j.get("core"), j.get("bases"), j.get("file_name")), (201, 1017, ["any"], "core.bin"), j)
        second = j["id"]
        st, j = a.req("GET", "packages?project=alpha")
        self.assertEqual([(p["id"], p["firmware"], p["core"]) for p in j["items"]],
                         [(first, "alpha_LuatOS-SoC_EC618", 1105), (second, "Air780E_AT_EC618", 1017)])
        self.assertGreater(j["items"][0]["created"], 0)
        with open(os.path.join(vendor_dir, sha + ".bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(len(a.req("GET", "packages")[1]["items"]), 2)
        self.assertIn((1105, "1.0.2"), [(f["core"], f["version"]) for f in a.req("GET", "firmware?project=alpha")[1]["items"]])
        self.assertIn("\tfrom V1103,V1104\t", self.s.admin("package", "list").stdout.decode())   # the CLI's view
        # bob: not his to see or remove
        self.assertEqual(b.req("GET", "packages?project=alpha")[0], 404)
        self.assertEqual(b.req("GET", "packages")[1]["items"], [])
        self.assertEqual(b.req("POST", "packages/remove", {"id": first})[0], 404)
        self.assertEqual(a.req("POST", "packages/remove", {"id": first}, csrf=False)[0], 403)
        for bad in ({"id": str(first)}, {"id": 0}, {}):
            self.assertEqual(a.req("POST", "packages/remove", bad)[0], 400, bad)
        self.assertEqual(a.req("POST", "packages/remove", {"id": first}), (200, {"ok": True}))
        self.assertEqual(a.req("POST", "packages/remove", {"id": first})[0], 404)
        self.assertEqual([p["id"] for p in a.req("GET", "packages?project=alpha")[1]["items"]], [second])
        # its release, made for it and named by nothing else, went with it
        self.assertNotIn(1105, [f["core"] for f in a.req("GET", "firmware?project=alpha")[1]["items"]])

    def stored_files(self):
        """PostgreSQL: how many files the database holds (None on SQLite)."""
        if not PG_STATE:
            return None
        return int(run("psql", "-XAtq", self.s.db, "-c", "SELECT COUNT(*) FROM file_blob").stdout)

    def err(self, c, method, path, body, status, code):
        """A refusal: its status, its code, and the shape of docs/server.md's table."""
        st, j = c.req(method, path, body)
        self.assertEqual((st, j.get("code")), (status, code), (path, body, j))
        check_code(self, j)
        return j

    def test_9_manage(self):
        """Issue 30: what an upload is (upload/info) and the refusal of a file that is not what its field says;
        configurations by id; edit and remove of projects, releases, configurations, packages while in use."""
        a, b = self.a, self.b
        self.assertEqual(a.req("POST", "projects", {"name": "gamma"})[0], 201)
        # upload/info reads the bytes: a 7z named like Luatools' .soc, a text file, an image, our package
        soc = self.up(a, "LuatOS-SoC_V1105_EC618.soc", b"7z\xbc\xaf\x27\x1c" + os.urandom(200))
        text = self.up(a, "notes.txt", b"not a script\n")
        core = self.up(a, "core.bin", self.new)
        script = self.up(a, "main.lua", b"x = 1\n")
        self.assertEqual(a.req("GET", "upload/info?id=" + soc),
                         (200, {"kind": "soc", "core": "V1105", "bsp": "EC618"}))
        self.assertEqual(a.req("GET", "upload/info?id=" + text)[1], {"kind": "text"})
        # a zip .soc (as Luatools packs it): its info.json read, deflated; a zip without one is an archive
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("luatos.bin", os.urandom(300))
            z.writestr("info.json", json.dumps({"version": 1, "chip": {"type": "ec618"},
                                                "user": {"project": "", "version": "1.2.3"}, "pad": "x" * 400}))
        zsoc = self.up(a, "firmware.soc", buf.getvalue())
        self.assertEqual(a.req("GET", "upload/info?id=" + zsoc)[1], {"kind": "soc", "bsp": "EC618", "version": "1.2.3"})
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("main.lua", "x = 1\n")
        self.assertEqual(a.req("GET", "upload/info?id=" + self.up(a, "scripts.zip", buf.getvalue()))[1],
                         {"kind": "archive"})
        self.assertEqual(a.req("GET", "upload/info?id=" + core)[1], {"kind": "core"})
        sim_image = self.up(a, "image.bin", b"LuatOS-SoC core V1103\n" + bytes(range(256)) * 8)   # simdevice.lua's
        self.assertEqual(a.req("GET", "upload/info?id=" + sim_image)[1], {"kind": "core", "core": "V1103"})
        self.assertEqual(a.req("GET", "upload/info?id=" + script)[1], {"kind": "script"})
        self.err(b, "GET", "upload/info?id=" + soc, None, 404, "upload_unknown")
        self.err(a, "GET", "upload/info", None, 400, "upload_unknown")
        # refused before anything is stored, with what the file is
        rel = {"kind": "luatos", "project": "gamma", "bsp": "EC618", "core_version": "V1105", "version": "2.0.1"}
        j = self.err(a, "POST", "firmware", dict(rel, core=soc, script=text), 400, "file_mismatch")
        self.assertEqual(j["args"], {"field": "core", "file": "LuatOS-SoC_V1105_EC618.soc", "expected": "core",
                                     "found": "soc"})
        j = self.err(a, "POST", "firmware", dict(rel, core=core, script=text), 400, "file_mismatch")
        self.assertEqual((j["args"]["field"], j["args"]["found"]), ("script", "text"))
        self.err(a, "POST", "packages", {"project": "gamma", "upload": text, "firmware": "gamma_LuatOS-SoC_EC618",
                                         "to": "1105.1.2", "from": "any"}, 400, "file_mismatch")
        j = self.err(a, "POST", "firmware", dict(rel, core=core, script=script, version=None), 400, "field_required")
        self.assertEqual(j["args"], {"field": "version"})
        self.assertEqual(a.req("GET", "firmware?project=gamma")[1]["items"], [])
        st, fw = a.req("POST", "firmware", dict(rel, core=core, script=script))
        self.assertEqual(st, 201, fw)
        # configurations: each with its id; an id edits that one, of this project only
        name = fw["name"]
        st, j = a.req("POST", "config", {"project": "gamma", "firmware": name, "all": False, "imeis": [IMEI1]})
        self.assertEqual(st, 200, j)
        items = a.req("GET", "config?project=gamma")[1]["items"]
        self.assertEqual([(c["firmware"], c["imeis"]) for c in items], [(name, [IMEI1])])
        cid = items[0]["id"]
        alpha_ids = [c["id"] for c in a.req("GET", "config?project=alpha")[1]["items"]]
        self.assertNotIn(cid, alpha_ids)
        self.assertEqual(a.req("POST", "config", {"project": "gamma", "id": cid, "all": True})[0], 200)
        self.assertEqual(a.req("GET", "config?project=gamma")[1]["items"][0]["all"], True)
        self.err(a, "POST", "config", {"project": "gamma", "id": alpha_ids[0], "all": True}, 404, "config_unknown")
        self.err(b, "POST", "config", {"project": "gamma", "id": cid, "all": True}, 404, "project_unknown")
        self.err(a, "POST", "config", {"project": "gamma", "id": "1"}, 400, "field_invalid")
        self.assertTrue(a.req("GET", "config?project=alpha")[1]["items"][0]["imeis"])   # alpha's untouched
        # in use: the release, the project; a package's release targeted by a configuration
        j = self.err(a, "POST", "firmware/remove", {"project": "gamma", "id": fw["id"]}, 409, "release_in_use")
        self.assertEqual((j["args"]["configs"], j["args"]["rollouts"]), ("1", "0"))
        j = self.err(a, "POST", "projects/remove", {"project": "gamma"}, 409, "project_in_use")
        self.assertEqual((j["args"]["releases"], j["args"]["configs"]), ("1", "1"))
        pkg_up = self.up(a, "gamma_1105.2.0_LuatOS-SoC_EC618.bin", os.urandom(2000))
        st, pkg = a.req("POST", "packages", {"project": "gamma", "upload": pkg_up, "from": "any"})
        self.assertEqual(st, 201, pkg)
        self.assertEqual(a.req("POST", "config", {"project": "gamma", "firmware": name, "version": "2.0.0"})[0], 200)
        j = self.err(a, "POST", "packages/remove", {"id": pkg["id"]}, 409, "package_in_use")
        self.assertEqual(j["args"]["configs"], "1")
        self.err(b, "POST", "config/remove", {"project": "gamma", "id": cid}, 404, "project_unknown")
        self.assertEqual(a.req("POST", "config/remove", {"project": "gamma", "id": cid}), (200, {"ok": True}))
        self.err(a, "POST", "config/remove", {"project": "gamma", "id": cid}, 404, "config_unknown")
        self.assertEqual(a.req("POST", "packages/remove", {"id": pkg["id"]}), (200, {"ok": True}))
        self.err(b, "POST", "firmware/remove", {"project": "gamma", "id": fw["id"]}, 404, "project_unknown")
        self.err(a, "POST", "firmware/remove", {"project": "alpha", "id": fw["id"]}, 404, "release_unknown")
        stored = self.stored_files()
        self.assertEqual(a.req("POST", "firmware/remove", {"project": "gamma", "id": fw["id"]}), (200, {"ok": True}))
        if PG_STATE:   # its script archive, named by no other release, left the database
            self.assertLess(self.stored_files(), stored)
        # rename (unique per account), a new key (the old one stops working), remove
        self.err(a, "POST", "projects/edit", {"project": "gamma", "name": "alpha"}, 409, "project_exists")
        self.err(a, "POST", "projects/edit", {"project": "gamma", "name": "bad\tname"}, 400, "project_invalid")
        self.assertEqual(a.req("POST", "projects/edit", {"project": "gamma", "name": "delta 项目"}),
                         (200, {"name": "delta 项目"}))
        old_key = [p["key"] for p in a.req("GET", "projects")[1]["items"] if p["name"] == "delta 项目"][0]
        st, j = a.req("POST", "projects/key", {"project": "delta 项目"})
        self.assertEqual(st, 200)
        self.assertNotEqual(j["key"], old_key)
        self.assertEqual([p["key"] for p in a.req("GET", "projects")[1]["items"] if p["name"] == "delta 项目"], [j["key"]])
        self.err(b, "POST", "projects/key", {"project": "delta 项目"}, 404, "project_unknown")
        self.err(b, "POST", "projects/remove", {"project": "delta 项目"}, 404, "project_unknown")
        self.assertEqual(a.req("POST", "projects/remove", {"project": "delta 项目"}), (200, {"ok": True}))
        self.assertNotIn("delta 项目", [p["name"] for p in a.req("GET", "projects")[1]["items"]])


class Https(unittest.TestCase):
    def test_secure_cookie(self):
        d = tempfile.mkdtemp()
        key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = Server("--tls-cert", cert, "--tls-key", key)
        try:
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            c = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=30, context=ctx)
            c.request("POST", "/console/api/login", body=json.dumps({"user": "alice", "password": INITIAL}),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertIn("; Secure", r.getheader("Set-Cookie"))
            c.close()
        finally:
            s.close()
            shutil.rmtree(d, ignore_errors=True)


class Off(unittest.TestCase):
    def test_console_off(self):
        s = Server("--console", "off")
        try:
            self.assertEqual(Client(s).login("alice", INITIAL)[0], 404)
        finally:
            s.close()


if PG_STATE:   # only with the ctest cluster (console_api_pg), which the tests on it take turns on
    class PostgresRestart(unittest.TestCase):
        def test_restart(self):
            """PostgreSQL stopped under a logged-in session: 503 with Retry-After (not a logout), then the
            same session works again once it is back."""
            cluster = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg", "cluster.sh")
            s = Server()
            try:
                a = Client(s).ready("alice")
                self.assertEqual(a.req("GET", "projects")[0], 200)
                run("bash", cluster, "down", PG_STATE)
                try:
                    st, _ = a.req("GET", "projects")
                    self.assertEqual(st, 503)
                    self.assertEqual(a.last_headers["Retry-After"], "1")
                finally:
                    run("bash", cluster, "up", PG_STATE)
                self.assertEqual(a.req("GET", "projects")[0], 200)
            finally:
                s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
