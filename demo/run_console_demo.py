"""The web console demo (bash scripts/dev demo): a fota-server with a console
account and a project with two releases, left running in the background for
an hour so that the console can be opened in a browser."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(ROOT, os.environ.get("FOTA_BUILD", "build"))
SERVER = os.path.join(BUILD, "fota-server")
HOME = os.path.join(BUILD, "console-demo")
USER, PASSWORD = "13800000000", "change-me-1"
SECOND = "13900000000"   # a second account, for the admin's users list


def admin(*args):
    subprocess.run([SERVER, *args, "--db", os.path.join(HOME, "fota.db")], check=True, stdout=subprocess.DEVNULL)


def start(listen):
    port_file = os.path.join(HOME, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    log = open(os.path.join(HOME, "server.log"), "w")
    p = subprocess.Popen([SERVER, "serve", "--db", os.path.join(HOME, "fota.db"), "--listen", listen,
                          "--port-file", port_file, "--lifetime", "3600"], stdout=log, stderr=log,
                         start_new_session=True)
    end = time.time() + 10
    while time.time() < end and p.poll() is None:
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = f.read().strip()
            if port:
                return p, int(port)
        time.sleep(0.05)
    return None, 0


def main():
    old = os.path.join(HOME, "server.pid")
    if os.path.exists(old):   # the previous demo's server
        with open(old) as f:
            pid = f.read().strip()
        if pid.isdigit():
            try:
                os.kill(int(pid), 15)
                time.sleep(0.5)
            except OSError:
                pass
    subprocess.run(["rm", "-rf", HOME], check=True)
    os.makedirs(os.path.join(HOME, "v1"))
    os.makedirs(os.path.join(HOME, "v2"))
    core = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(64 * 1024))
    for name, data in (("core-V1103.bin", core), ("core-V1104.bin", core[:30000] + b"new code" * 64 + core[30000:]),
                       ("v1/main.lua", b'PROJECT = "demo"\nVERSION = "1.0.0"\n'),
                       ("v2/main.lua", b'PROJECT = "demo"\nVERSION = "1.0.1"\n')):
        with open(os.path.join(HOME, name), "wb") as f:
            f.write(data)
    admin("user", "add", "--name", USER, "--password", PASSWORD)   # the first account: the admin
    admin("user", "add", "--name", SECOND, "--password", PASSWORD)
    admin("project", "add", "--name", "demo", "--key", "DemoProductKey01", "--owner", USER)
    for c, s, v in (("V1103", "v1", "1.0.0"), ("V1104", "v2", "1.0.1")):
        admin("firmware", "add", "--project", "demo", "--bsp", "EC618", "--core-version", c,
              "--core", os.path.join(HOME, "core-%s.bin" % c), "--script", os.path.join(HOME, s), "--version", v)
    admin("config", "set", "--project", "demo", "--firmware", "demo_LuatOS-SoC_EC618")
    # a staged rollout of it, in three waves, for the rollouts page
    admin("rollout", "start", "--project", "demo", "--firmware", "demo_LuatOS-SoC_EC618", "--waves", "10,50,100")
    p, port = start("127.0.0.1:8080")
    if not p:
        p, port = start("127.0.0.1:0")   # 8080 taken: any free port
    if not p:
        print("fota-server did not start; see %s/server.log" % HOME)
        return 1
    with open(os.path.join(HOME, "server.pid"), "w") as f:
        f.write(str(p.pid))
    url = "http://127.0.0.1:%d/console/" % port
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
    req = urllib.request.Request(url + "api/login", data=json.dumps({"user": USER, "password": PASSWORD}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.load(r)["must_change"]
    # two devices ask once, so that the devices and log pages have something to show
    for imei in ("860000000000017", "860000000000025"):
        q = ("api/site/firmware_upgrade?project_key=DemoProductKey01&firmware_name=demo_LuatOS-SoC_EC618"
             "&version=1103.1.0&imei=" + imei)
        try:
            urllib.request.urlopen(url.replace("/console/", "/") + q, timeout=30).read()
        except urllib.error.HTTPError:
            pass   # an answer with a code the page explains
    print("fota-server (pid %d) serves the web console for an hour:" % p.pid)
    print("  open   %s" % url)
    print("  login  %s / %s   (the first login asks for a new password)" % (USER, PASSWORD))
    print("  it has project 'demo' (ProductKey DemoProductKey01) with releases V1103 1.0.0 and V1104 1.0.1,")
    print("  their configuration with a staged rollout (10, 50, 100 %), two devices that asked, and a second")
    print("  account %s (same initial password) on the admin's Account page;" % SECOND)
    print("  a device: curl '%sapi/site/firmware_upgrade?project_key=DemoProductKey01&firmware_name="
          "demo_LuatOS-SoC_EC618&version=1103.1.0&imei=860000000000017'" % url.replace("/console/", "/"))
    print("  stop it: kill %d" % p.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
