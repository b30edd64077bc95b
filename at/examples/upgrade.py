"""A host's upgrade over AT (docs/at.md): python3 upgrade.py PORT URL
Sets the server, starts a check, prints the URCs and ends on END."""
import sys
import time

import serial

port = serial.Serial(sys.argv[1], 115200, timeout=1)


def command(line):
    """Sends one command; returns its information lines, raises on an error."""
    port.write(line.encode() + b"\r")
    info = []
    while True:
        text = port.readline().decode("latin-1").strip()
        if text == "OK":
            return info
        if text == "ERROR" or text.startswith("+CME ERROR"):
            raise RuntimeError("%s: %s" % (line, text))
        if text and text != line:
            info.append(text)


command("ATE0")
command("AT+CMEE=1")
command('AT+UPGRADE="URL","%s"' % sys.argv[2])   # or AT+UPGRADE="KEY","<ProductKey>"; CME 50: a bad URL
command("AT+UPGRADE")
deadline = time.time() + 3600   # a server building the package may say 43 ten times, 300 s each
while time.time() < deadline:
    text = port.readline().decode("latin-1").strip()
    if text.startswith("+UPGRADE:") or text == "RDY":
        print(text)
    if text.startswith('+UPGRADE: "END",'):
        end = int(text.split(",")[1])
        print("upgraded" if end == 0 else "already latest" if end == 27 else "no upgrade: END %d" % end)
        sys.exit(0 if end in (0, 27) else 1)
sys.exit("no END")
