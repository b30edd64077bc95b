"""The AT firmware demo (bash scripts/dev demo): fota-server gets an AT project
with releases V1015 and V1016 (whole images; the server builds the delta),
a luat-at module on V1015 is driven over its pty as a host MCU would:
KEY set, AT+UPGRADE, the URCs, the reboot into V1016 and 27 after it."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "at"))
os.environ.setdefault("FOTA_BUILD", "build")
import atlib  # noqa: E402


def show(m, command, timeout=5):
    out, final = m.cmd(command, timeout)
    print("  > %s" % command)
    for line in out + [final]:
        print("  < %s" % line)
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="at-demo-")
    fs = atlib.FotaServer(tmp)
    m = None
    try:
        v1015, v1016 = atlib.firmware_pair(tmp)
        key, pub = atlib.keygen(tmp)
        for args in (("project", "add", "--name", "at-demo", "--key", "AtDemoKey1"),
                     ("at", "add", "--project", "at-demo", "--model", "Air780E", "--bsp", "EC618",
                      "--version", "V1015", "--image", v1015),
                     ("at", "add", "--project", "at-demo", "--model", "Air780E", "--bsp", "EC618",
                      "--version", "V1016", "--image", v1016),
                     ("config", "set", "--project", "at-demo", "--firmware", "Air780E_AT_EC618")):
            print("fota-server %s" % " ".join(a if "/" not in a else os.path.basename(a) for a in args[:6]))
            fs.admin(*args)
        url = fs.serve("--key", key)
        m = atlib.Module(os.path.join(tmp, "module"), firmware=v1015, trusted=pub,
                         env={"LUAT_FOTA_IOT_URL": url})
        print("luat-at: AT port %s (firmware V1015, trusts the server's key)" % m.path)
        m.sync()
        show(m, "ATE0")
        show(m, "AT+CGMR")
        show(m, 'AT+UPGRADE="KEY","AtDemoKey1"')
        show(m, "AT+UPGRADE?")
        start, mark = time.time(), len(m.lines)
        for _ in range(30):
            show(m, "AT+UPGRADE")
            line = m.wait(r'^\+UPGRADE: "(CODE|VERIFIED|FAIL)"', 30)
            if "VERIFIED" in line or ",43," not in line:
                break
            print("  (the server builds the delta for V1015: ask again)")
            time.sleep(0.3)
        m.wait(r'^\+UPGRADE: "CODE",27', 30)
        print("  unsolicited, as they came:")
        for line in m.lines[mark:]:
            if line.startswith('+UPGRADE: "') or line == "RDY":
                print("  < %s" % line)
        m.sync()
        show(m, "ATE0")
        show(m, "AT+CGMR")
        sent = [r for r in fs.log(m.ok("AT+CGSN")[0], r"\t200\t0\t").splitlines() if "\t200\t0\t" in r]
        print("upgraded in %.1f s; server: %s (the whole image is %d bytes)"
              % (time.time() - start, sent[0].split("\t")[-1] if sent else "?", os.path.getsize(v1016)))
        return 0
    finally:
        if m:
            m.close()
        fs.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
