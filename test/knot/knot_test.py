#!/usr/bin/env python3
"""Knot end to end: starts build/bin/knot on a temporary root and checks what
a client relies on: files and their bytes (small, and large ones sent with
sendfile), HEAD, keep-alive and pipelined requests (HTTP/1.0 keep-alive
answered with Connection: keep-alive), the error statuses (400 for a path
that climbs out of the root, 404, 405, 413, 414, 431; the 431 still
readable when the client was sending more), a directory named without its
slash redirected, no file outside the root through a symbolic link, a FIFO
in the root answered 404 without stopping the server, many concurrent
connections on one scheduler, and a clean stop on SIGTERM, with a grace
for a client that stopped reading a large file, cut by a second SIGTERM.

usage: knot_test.py KNOT_BINARY
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, raw):
        self.s.sendall(raw)

    def response(self, head=False):
        # What an earlier read took beyond its response comes first.
        data = self.buf
        while b"\r\n\r\n" not in data:
            chunk = self.s.recv(65536)
            if not chunk:
                return None, {}, b""
            data += chunk
        head_part, rest = data.split(b"\r\n\r\n", 1)
        lines = head_part.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.buf = rest[length:]
        return status, headers, rest[:length]

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


def get(port, path, extra=""):
    c = Conn(port)
    c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
    r = c.response()
    c.close()
    return r


def main():
    knot = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "www")
        os.makedirs(os.path.join(root, "sub"))
        rnd = random.Random(7)
        small = bytes(rnd.getrandbits(8) for _ in range(1024))
        large = bytes(rnd.getrandbits(8) for _ in range(100 * 1024 + 17))
        with open(os.path.join(root, "small.bin"), "wb") as f:
            f.write(small)
        with open(os.path.join(root, "large.bin"), "wb") as f:
            f.write(large)
        with open(os.path.join(root, "sub", "index.html"), "w") as f:
            f.write("<p>sub</p>\n")
        with open(os.path.join(tmp, "secret.txt"), "w") as f:
            f.write("not for clients\n")
        os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(root, "escape.txt"))
        os.mkfifo(os.path.join(root, "pipe"))
        with open(os.path.join(root, "huge.bin"), "wb") as f:
            f.truncate(256 << 20)  # more than any socket buffers hold

        proc = subprocess.Popen([knot, "--root", root, "--port", "0", "--schedulers", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        m = re.search(r":(\d+)/", line)
        if not m:
            print("knot did not start:", line, proc.stderr.read())
            return 1
        port = int(m.group(1))

        st, h, body = get(port, "/small.bin")
        check(st == 200 and body == small, "GET small file")
        check(h.get("content-type") == "application/octet-stream", "content type")
        st, h, body = get(port, "/large.bin")
        check(st == 200 and body == large, "GET large file (sendfile)")
        st, h, body = get(port, "/sub/")
        check(st == 200 and body == b"<p>sub</p>\n", "directory index")
        st, _, _ = get(port, "/missing")
        check(st == 404, "404")
        st, _, _ = get(port, "/escape.txt")
        check(st == 404, "a symbolic link out of the root is not followed")
        st, _, _ = get(port, "/../secret.txt")
        check(st == 400, "a path above the root is 400")
        st, _, _ = get(port, "/%2e%2e/secret.txt")
        check(st == 400, "an escaped path above the root is 400")
        st, _, _ = get(port, "/" + "a" * 3000)
        check(st == 414, "414")
        st, _, _ = get(port, "/small.bin", "X-Big: " + "b" * 9000 + "\r\n")
        check(st == 431, "431")
        st, _, body = get(port, "/small.bin", "X-Mid: " + "m" * 3000 + "\r\n")
        check(st == 200 and body == small, "a header section larger than the small buffer")
        st, _, _ = get(port, "/small.bin", "Content-Length: 99999999\r\n")
        check(st == 413, "413")

        # A FIFO in the root: opening it must not wait for a writer (that
        # would hold the scheduler, and the acceptor with it).
        try:
            c = Conn(port)
            c.s.settimeout(5)
            c.send(b"GET /pipe HTTP/1.1\r\nHost: t\r\n\r\n")
            st, _, _ = c.response()
            check(st == 404, "a FIFO is 404")
            c.close()
            st, _, body = get(port, "/small.bin")
            check(st == 200 and body == small, "served after a FIFO request")
        except OSError as e:
            check(False, f"a FIFO request stops the server: {e}")

        # A directory without its slash: redirected, the query kept.
        st, h, _ = get(port, "/sub")
        check(st == 301 and h.get("location") == "/sub/", f"301 to the slash: {st} {h}")
        st, h, _ = get(port, "/sub?x=1")
        check(st == 301 and h.get("location") == "/sub/?x=1", "301 keeps the query")

        # HTTP/1.0: kept alive only when asked, and then told so.
        c = Conn(port)
        c.send(b"GET /small.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        st, h, body = c.response()
        check(st == 200 and body == small and h.get("connection", "").lower() == "keep-alive",
              "HTTP/1.0 keep-alive is answered with Connection: keep-alive")
        c.send(b"GET /small.bin HTTP/1.0\r\n\r\n")
        st, h, body = c.response()
        check(st == 200 and h.get("connection", "").lower() == "close" and c.closed(),
              "HTTP/1.0 without keep-alive closes")
        c.close()

        # A client still sending when the server answers 431 and closes: the
        # server ends its side with a FIN and reads and drops the rest, so no
        # reset reaches the client (on a real network a reset can overtake
        # the response and destroy it; on loopback it shows as the reset).
        c = Conn(port)
        c.send(b"GET /small.bin HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 60000 + b"\r\n")
        threading.Event().wait(0.3)
        try:
            st, _, _ = c.response()
            check(st == 431, f"431 after an oversized header the client kept sending: {st}")
            check(c.s.recv(1) == b"", "the server's side ends with a FIN")
        except ConnectionResetError:
            check(False, "a reset after 431: the server closed with unread input")
        c.close()

        c = Conn(port)
        c.send(b"POST /small.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        st, h, _ = c.response()
        check(st == 405 and h.get("allow") == "GET, HEAD", "405 with Allow")
        # Keep-alive: the same connection serves the next request, HEAD too.
        c.send(b"HEAD /large.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        st, h, body = c.response(head=True)
        check(st == 200 and h.get("content-length") == str(len(large)) and body == b"",
              "HEAD on a kept-alive connection")
        # Pipelined: three requests in one write.
        c.send(b"GET /small.bin HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /small.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r1, r2, r3 = c.response(), c.response(), c.response()
        check(r1[0] == 200 and r1[2] == small and r2[0] == 404 and r3[0] == 200 and r3[2] == small,
              "pipelined requests")
        check(c.closed(), "Connection: close closes")
        c.close()
        # Malformed: 400, then the connection closes.
        c = Conn(port)
        c.send(b"GET / HTTP/1.1\r\nHost : t\r\n\r\n")
        st, _, _ = c.response()
        check(st == 400 and c.closed(), "malformed request: 400 and close")
        c.close()

        # Many clients at once on one scheduler, each several requests.
        errors = []

        def client(i):
            try:
                cc = Conn(port)
                for _ in range(5):
                    cc.send(b"GET /small.bin HTTP/1.1\r\nHost: t\r\n\r\n")
                    s, _, b = cc.response()
                    if s != 200 or b != small:
                        errors.append(i)
                cc.close()
            except OSError as e:
                errors.append((i, e))

        idle = [Conn(port) for _ in range(200)]  # connections that never send
        threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, f"100 concurrent clients beside 200 idle ones: {errors[:3]}")

        # A client that stops reading a large file: a stop gives it a grace,
        # and a second SIGTERM cuts it.
        stalled = Conn(port)
        stalled.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        stalled.send(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        threading.Event().wait(0.5)
        proc.send_signal(signal.SIGTERM)
        threading.Event().wait(1.0)
        check(proc.poll() is None, "a stop waits for a response in progress")
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            check(False, "stops within 10 s of the second SIGTERM")
        stalled.close()
        check(proc.returncode == 0 and "stopped" in out, f"clean stop: rc {proc.returncode} {err}")
        for c in idle:
            check(c.closed(), "idle connections closed at stop")
            c.close()
            break
    if failures:
        print(f"knot_test: {failures} failures")
        return 1
    print("knot_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
