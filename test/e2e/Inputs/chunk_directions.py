# Walks the selected thread's frames from the innermost outwards and counts
# how often a caller's frame lies above its callee's (the usual direction)
# and below it (a chunk at a lower address than the one grown from it).
import gdb

up = down = 0
frame = gdb.newest_frame()
sp = int(frame.read_register("rsp"))
while frame.older() is not None:
    frame = frame.older()
    caller_sp = int(frame.read_register("rsp"))
    if caller_sp > sp:
        up += 1
    elif caller_sp < sp:
        down += 1
    sp = caller_sp
print("frames at higher addresses than their callee's: %d, lower: %d" % (up, down))
