#!/usr/bin/env python3
"""timeit.py OUT COMMAND [ARGS...]: run COMMAND once with its standard output
in the file OUT; print its wall time and CPU time (user + system), in
microseconds: "WALL CPU". Exit with COMMAND's status if it fails."""
import os
import sys
import time

out, argv = sys.argv[1], sys.argv[2:]
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t0 = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    os.dup2(fd, 1)
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter_ns()
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit(f"timeit.py: {' '.join(argv)} exited with {code}")
print((t1 - t0) // 1000, round((ru.ru_utime + ru.ru_stime) * 1e6))
