#!/usr/bin/env python3
"""Knot's memory per idle keep-alive connection: N connections each get one
response, then sit idle (their threads parked in read); the server's VmRSS
and VmPTE growth over N is one connection's cost (the kernel's socket
buffers are not in it).

usage: memory.py KNOT_BINARY ROOT_DIR [N ...]   (default N: 1000 10000)
"""
import re
import resource
import socket
import subprocess
import sys
import time


def status(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        d[k] = v.strip()
    return int(d["VmRSS"].split()[0]) * 1024, int(d["VmPTE"].split()[0]) * 1024


def request(c):
    c.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        got += c.recv(65536)
    head, body = got.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += c.recv(65536)


def measure(knot, root, n):
    p = subprocess.Popen([knot, "--root", root, "--port", "0", "--schedulers", "1"],
                         stdout=subprocess.PIPE, text=True)
    port = int(re.search(r":(\d+)/", p.stdout.readline()).group(1))
    warm = socket.create_connection(("127.0.0.1", port))
    request(warm)
    warm.close()
    time.sleep(0.3)
    rss0, pte0 = status(p.pid)
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    for c in conns:
        request(c)
    time.sleep(0.5)
    rss1, pte1 = status(p.pid)
    p.terminate()
    p.wait()
    for c in conns:
        c.close()
    print(f"| {n:,} | {(rss1 - rss0) / n:,.0f} | {(pte1 - pte0) / n:.1f} |")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    counts = [int(x) for x in sys.argv[3:]] or [1000, 10000]
    print("| idle connections | VmRSS bytes per connection | VmPTE bytes per connection |")
    print("|---:|---:|---:|")
    for n in counts:
        measure(sys.argv[1], sys.argv[2], n)


if __name__ == "__main__":
    main()
