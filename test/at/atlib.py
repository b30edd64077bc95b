"""Drive luat-at over its pty as a host MCU would (pyserial), plus the
fixtures the AT tests and the demo share: firmware images, packages,
a static HTTP server and fota-server. Every wait is bounded."""
import http.client
import http.server
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

import serial

BUILD = os.environ.get("FOTA_BUILD", "build")
LUAT_AT = os.path.join(BUILD, "luat-at")
FOTAPACK = os.path.join(BUILD, "fotapack")
FOTA_SERVER = os.path.join(BUILD, "fota-server")
FINAL = re.compile(r"^(OK|ERROR|\+CME ERROR: .*)$")


def firmware_pair(directory, size=200000, seed=1015):
    """Two AT firmware images, V1015 and V1016, sharing most bytes (a delta
    is small, as between two builds)."""
    rnd = random.Random(seed)
    old = bytes(rnd.getrandbits(8) for _ in range(size))
    new = old[: size // 4] + b"V1016 code " * 80 + old[size // 4:size - 3000] + bytes(range(256)) * 4
    paths = (os.path.join(directory, "V1015.bin"), os.path.join(directory, "V1016.bin"))
    for p, data in zip(paths, (old, new)):
        with open(p, "wb") as f:
            f.write(data)
    return paths


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (args[:3], r.returncode, r.stdout, r.stderr))
    return r


def keygen(directory, name="key"):
    key, pub = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".pub.pem")
    run(FOTAPACK, "keygen", "-o", key, "--pub", pub)
    return key, pub


def delta_package(out, old, new, key=None, bsp="EC618"):
    # an AT release names no scripts: its script half is "0.0.0", as fota-server's AT releases
    args = [FOTAPACK, "build", "--project", "at", "--bsp", bsp, "--to-core", new, "--core-version", "V1016",
            "--from-core", old, "--from-core-version", "V1015", "--version", "0.0.0", "-o", out]
    if key:
        args += ["--key", key]
    run(*args)
    return out


def full_package(out, new, key=None, bsp="EC618"):
    """The whole V1016 image as a package (for a module on any base)."""
    args = [FOTAPACK, "build", "--project", "at", "--bsp", bsp, "--to-core", new, "--core-version", "V1016",
            "--version", "0.0.0", "-o", out]
    if key:
        args += ["--key", key]
    run(*args)
    return out


class Module:
    """One luat-at process and the host's end of its AT port."""

    def __init__(self, device, *args, env=None, firmware=None, trusted=None, log_pty=False):
        # --lifetime: a module outlives no killed test run by more than 10 minutes
        cmd = [LUAT_AT, "--device", device, "--lifetime", "600"] + list(args)
        if firmware:
            cmd += ["--firmware", firmware, "--fw-version", "V1015"]
        if log_pty:
            cmd.append("--log-pty")
        if trusted:
            os.makedirs(os.path.join(device, "fota"), exist_ok=True)
            shutil.copy(trusted, os.path.join(device, "fota", "trusted.pem"))
        full_env = dict(os.environ)
        full_env.pop("LUAT_FOTA_POWERCUT", None)
        full_env.update(env or {})
        self.device = device
        self.stderr_path = device.rstrip("/") + ".stderr"
        self.errf = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errf, env=full_env, text=True)
        self.path = self.proc.stdout.readline().strip()
        if not self.path.startswith("/dev/"):
            self.proc.wait(timeout=10)
            raise AssertionError("luat-at did not start: %s" % self.stderr())
        self.log_path = self.proc.stdout.readline().strip() if log_pty else None
        self.port = serial.Serial(self.path, 115200, timeout=0.05)
        self.buf = b""
        self.lines = []          # every line seen, in order
        self.pending = []        # lines not yet taken by cmd() or wait()
        self.arrived = {}        # index in lines -> when it was read
        self.matched_at = None   # when the line wait() returned was read

    def stderr(self):
        if not self.errf.closed:
            self.errf.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def _pump(self, timeout):
        try:
            data = self.port.read(4096)
        except serial.SerialException:   # the module is gone (a power cut)
            data = b""
        if not data and timeout > 0:
            time.sleep(min(timeout, 0.01))
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("latin-1")
            if text:
                self.lines.append(text)
                self.pending.append(text)
                self.arrived[len(self.lines) - 1] = time.time()
        return bool(data)

    def write(self, data):
        self.port.write(data)
        self.port.flush()

    def wait(self, pattern, timeout=10):
        """The first pending line matching pattern (regex); lines before it
        are dropped from pending (they stay in self.lines)."""
        rx = re.compile(pattern)
        end = time.time() + timeout
        while True:
            for i, line in enumerate(self.pending):
                if rx.search(line):
                    index = len(self.lines) - len(self.pending) + i
                    self.matched_at = self.arrived.get(index)
                    del self.pending[: i + 1]
                    return line
            if time.time() > end:
                raise AssertionError("no line like %r in %ss; seen: %r; stderr: %s"
                                     % (pattern, timeout, self.lines[-20:], self.stderr()[-2000:]))
            if self.proc.poll() is not None and not self._pump(0):
                raise AssertionError("luat-at exited (%s) waiting for %r; seen %r"
                                     % (self.proc.returncode, pattern, self.lines[-20:]))
            self._pump(0.01)

    def cmd(self, line, timeout=5):
        """Sends a command line; returns (information lines, final result)."""
        self.pending.clear()
        self.write(line.encode("latin-1") + b"\r" if isinstance(line, str) else line)
        end = time.time() + timeout
        out = []
        while time.time() < end:
            while self.pending:
                text = self.pending.pop(0)
                if FINAL.match(text):
                    return out, text
                out.append(text)
            if self.proc.poll() is not None and not self._pump(0):
                break
            self._pump(0.01)
        raise AssertionError("no result for %r; got %r; stderr: %s" % (line, out, self.stderr()[-2000:]))

    def ok(self, line, timeout=5):
        out, final = self.cmd(line, timeout)
        if final != "OK":
            raise AssertionError("%r answered %s (%r)" % (line, final, out))
        return out

    def sync(self, timeout=5):
        """As a host does after power-up: AT until OK (RDY may come before the port is open)."""
        end = time.time() + timeout
        while True:
            try:
                return self.cmd("AT", 0.3)
            except AssertionError:
                if time.time() > end:
                    raise

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.port.close()
        self.proc.stdout.close()
        self.errf.close()
        return self.proc.returncode


def answer(handler, status, body, headers=()):
    """A whole HTTP answer from a StaticServer route."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def resumable(pkg, etag, seen, version="1015.0.0"):
    """A StaticServer route serving pkg to a module on `version` (27 to
    others) with its ETag, resuming a Range whose If-Range names it (206).
    seen gets a row per package request: [Range, If-Range, bytes sent]; the
    first transfer is slow enough (20 ms per 4 KiB) to be cut mid-way."""
    def serve(handler):
        if "version=" + version not in handler.path:
            return answer(handler, 404, b'{"code":27,"msg":"already latest"}')
        rng, if_range = handler.headers.get("Range"), handler.headers.get("If-Range")
        got = re.match(r"^bytes=(\d+)-$", rng or "")
        start = int(got.group(1)) if got and if_range == etag and int(got.group(1)) < len(pkg) else 0
        row = [rng, if_range, 0]
        seen.append(row)
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(pkg) - 1, len(pkg)))
        handler.send_header("ETag", etag)
        handler.send_header("Content-Length", str(len(pkg) - start))
        handler.end_headers()
        pause = 0.02 if len(seen) == 1 else 0
        try:
            for i in range(start, len(pkg), 4096):
                handler.wfile.write(pkg[i:i + 4096])
                handler.wfile.flush()
                row[2] += len(pkg[i:i + 4096])
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the module was killed
    return serve


def partial(handler, body, sent, chunk=4096, pause=0.0):
    """Announces all of body but sends only its first `sent` bytes, in chunks
    with a pause between them (a slow link, or a server dying mid-way)."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for i in range(0, sent, chunk):
        handler.wfile.write(body[i:min(i + chunk, sent)])
        handler.wfile.flush()
        time.sleep(pause)


def relay(handler, upstream, row, pause=0.0, chunk=4096):
    """Forwards a GET (with its Range and If-Range) to upstream, e.g.
    fota-server, and streams the answer back in chunks with a pause between
    them: a slow link in front of a real server. row (a dict) gets the
    request's Range and If-Range and counts the body bytes sent as they go."""
    u = urllib.parse.urlsplit(upstream)
    row.update(range=handler.headers.get("Range"), if_range=handler.headers.get("If-Range"), sent=0)
    keep = {k: v for k, v in handler.headers.items() if k.lower() in ("range", "if-range")}
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", handler.path, headers=keep)
        resp = conn.getresponse()
        row["status"] = resp.status
        handler.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "date", "server"):
                handler.send_header(name, value)
        handler.end_headers()
        while True:
            data = resp.read(chunk)
            if not data:
                break
            handler.wfile.write(data)
            handler.wfile.flush()
            row["sent"] += len(data)
            time.sleep(pause)
    except (BrokenPipeError, ConnectionResetError):
        pass   # the module went away
    finally:
        conn.close()


class StaticServer:
    """A plain file server on 127.0.0.1 (the guide's self-built server).
    routes: path -> bytes, or a callable(handler) for faults."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                route = owner.routes.get(self.path.split("?")[0])
                if callable(route):
                    return route(self)
                answer(self, 404, b"") if route is None else answer(self, 200, route)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FotaServer:
    """fota-server with its database in directory; serve() starts it."""

    def __init__(self, directory):
        self.db = os.path.join(directory, "fota.db")
        self.proc = None

    def admin(self, *args, check=True):
        return run(FOTA_SERVER, args[0], args[1], "--db", self.db, *args[2:], check=check)

    def serve(self, *extra):
        port_file = self.db + ".port"
        if os.path.exists(port_file):
            os.remove(port_file)
        self.errf = open(self.db + ".stderr", "w")
        self.proc = subprocess.Popen([FOTA_SERVER, "serve", "--db", self.db, "--listen", "127.0.0.1:0",
                                      "--port-file", port_file, "--lifetime", "300"] + list(extra),
                                     stdout=subprocess.DEVNULL, stderr=self.errf)
        end = time.time() + 10
        while not (os.path.exists(port_file) and read(port_file).strip()):
            if time.time() > end or self.proc.poll() is not None:
                raise AssertionError("fota-server did not start")
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s/api/site/firmware_upgrade" % read(port_file).decode().strip()
        return self.url

    def log(self, imei, expect=None, timeout=3):
        """The device's log rows; with expect, waits (rows are written in batches) until it is in."""
        end = time.time() + timeout
        while True:
            out = run(FOTA_SERVER, "log", "--db", self.db, "--imei", imei, check=False).stdout
            if not expect or re.search(expect, out) or time.time() > end:
                return out
            time.sleep(0.1)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.errf.close()
