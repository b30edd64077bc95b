"""Helpers of the console tests: a fota-server with a console account, and an
HTTP client keeping the session cookie and the CSRF token (python3 only)."""
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

BUILD = os.environ.get("FOTA_BUILD", "build")
FOTA_SERVER = os.path.abspath(os.path.join(BUILD, "fota-server"))
FOTAPACK = os.path.abspath(os.path.join(BUILD, "fotapack"))
INITIAL = "initial-pass-1"
# Set (ctest console_api_pg): a file holding a throwaway PostgreSQL cluster's
# URL (test/pg/cluster.sh); every Server then gets its own database there.
PG_STATE = os.environ.get("FOTA_TEST_DB_FILE")
_databases = [0]


def fresh_database():
    """The URL of a new, empty database on the test cluster."""
    base = read(PG_STATE).strip()
    _databases[0] += 1
    name = "console_%d_%d" % (os.getpid(), _databases[0])
    run("psql", "-q", base, "-c", "CREATE DATABASE " + name)
    return base.rsplit("/", 1)[0] + "/" + name


def run(*args, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise AssertionError("%s: %s %s" % (" ".join(args), p.stdout.decode(), p.stderr.decode()))
    return p


def read(path):
    with open(path) as f:
        return f.read()


def luhn_imei(prefix14):
    """A 15-digit IMEI with a valid check digit."""
    total = 0
    for i, ch in enumerate(prefix14):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return prefix14 + str((10 - total % 10) % 10)


class Server:
    """fota-server serve on 127.0.0.1, port 0, in its own temporary directory."""

    def __init__(self, *extra, users=("alice", "bob")):
        self.dir = tempfile.mkdtemp(prefix="console-test-")
        self.db = fresh_database() if PG_STATE else os.path.join(self.dir, "fota.db")
        self.data = os.path.join(self.dir, "data")
        for u in users:
            self.admin("user", "add", "--name", u, "--password", INITIAL)
        port_file = os.path.join(self.dir, "port")
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([FOTA_SERVER, "serve", "--db", self.db, "--data", self.data,
                                      "--listen", "127.0.0.1:0",
                                      "--port-file", port_file, "--lifetime", "900", "--log-flush-ms", "20"]
                                     + list(extra), stdout=subprocess.DEVNULL, stderr=self.err)
        end = time.time() + 15
        while not (os.path.exists(port_file) and read(port_file).strip()):
            if time.time() > end or self.proc.poll() is not None:
                raise AssertionError("fota-server did not start")
            time.sleep(0.02)
        self.port = int(read(port_file).strip())
        self.base = "http://127.0.0.1:%d" % self.port

    def admin(self, *args, check=True):
        return run(FOTA_SERVER, args[0], args[1], "--db", self.db, "--data", self.data, *args[2:], check=check)

    def device(self, key, fw, version, imei):
        """The device query (the IoT-platform API): (status, body bytes)."""
        q = urllib.parse.urlencode({"project_key": key, "firmware_name": fw, "version": version, "imei": imei})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/api/site/firmware_upgrade?" + q)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def close(self):
        """Stops the server; a sanitizer report in its output fails the test."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.err.close()
        err = read(os.path.join(self.dir, "stderr"))
        shutil.rmtree(self.dir, ignore_errors=True)
        if "Sanitizer" in err or "runtime error" in err:
            raise AssertionError("fota-server: " + err[-4000:])


class Client:
    """One browser: the session cookie, the CSRF token."""

    def __init__(self, server):
        self.s = server
        self.cookie = None
        self.csrf = None

    def req(self, method, path, body=None, raw=None, headers=None, csrf=True, ctype=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if method == "POST" and csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if ctype:
            h["Content-Type"] = ctype
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=60)
        c.request(method, path if path.startswith("/") else "/console/api/" + path, body=data, headers=h)
        r = c.getresponse()
        out = r.read()
        setc = r.getheader("Set-Cookie")
        if setc and setc.startswith("fota_session="):
            v = setc.split(";")[0]
            self.cookie = v if v != "fota_session=" else None
        self.last_headers = dict(r.getheaders())
        c.close()
        try:
            j = json.loads(out)
        except ValueError:
            j = out
        return r.status, j

    def login(self, user, password):
        st, j = self.req("POST", "login", {"user": user, "password": password})
        if st == 200:
            self.csrf = j["csrf"]
        return st, j

    def ready(self, user, new_password="a-new-password-1"):
        """Logged in with the initial password changed."""
        st, j = self.login(user, INITIAL)
        assert st == 200, j
        st, j = self.req("POST", "password", {"old": INITIAL, "new": new_password})
        assert st == 200, j
        return self

    def upload(self, name, data, into=None):
        q = "upload?name=" + urllib.parse.quote(name) + ("&into=" + into if into else "")
        return self.req("POST", q, raw=data, ctype="application/octet-stream")


def images(directory):
    """Two core images (the second a small edit of the first) and a script file."""
    old = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(64 * 1024))
    new = old[:20000] + b"inserted code" * 40 + old[20000:]
    return old, new
