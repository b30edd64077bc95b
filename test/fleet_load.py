#!/usr/bin/python3
"""Load for test/fleet_spec.lua.

fleet_load.py OUT SECONDS PREFIX QUERY PORT...: checks against several
fota-server instances, one keep-alive connection per port, taken in turn, a
new Luhn-valid IMEI per request, for SECONDS. One line per request to OUT:
port imei status t_done (status 0: no answer). Bounded: it ends after
SECONDS whatever happens.

fleet_load.py slow OUT PORT PATH: a module on a slow link: GET PATH with a
small receive buffer, reading 2 KB every 50 ms, the body into OUT as it comes
(10 s at most)."""
import http.client
import socket
import sys
import time


def slow(out, port, path):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(2)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
    head = b""
    end = time.time() + 10
    with open(out, "wb") as f:
        while time.time() < end:
            try:
                chunk = s.recv(2048)
            except OSError:
                break
            if not chunk:
                break
            if head is not None:
                head += chunk
                if b"\r\n\r\n" not in head:
                    continue
                chunk = head.split(b"\r\n\r\n", 1)[1]
                head = None
            f.write(chunk)
            f.flush()
            time.sleep(0.05)


def luhn(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def main():
    if sys.argv[1] == "slow":
        slow(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    out, seconds, prefix, query = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
    ports = [int(p) for p in sys.argv[5:]]
    conns = {p: None for p in ports}
    n = 0
    end = time.time() + seconds
    with open(out, "w") as f:
        while time.time() < end:
            for port in ports:
                n += 1
                imei = luhn("%s%010d" % (prefix, n))
                status = 0
                try:
                    if conns[port] is None:
                        conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conns[port].request("GET", "/api/site/firmware_upgrade?%s&imei=%s" % (query, imei))
                    r = conns[port].getresponse()
                    r.read()
                    status = r.status
                except (OSError, http.client.HTTPException):
                    if conns[port] is not None:
                        conns[port].close()
                    conns[port] = None
                f.write("%d %s %d %.4f\n" % (port, imei, status, time.time()))
                if status == 0:
                    time.sleep(0.01)
            f.flush()


if __name__ == "__main__":
    main()
