# gdb support for libcapri's user-level threads.
#
#   (gdb) source tools/gdb/capri.py
#   (gdb) capri threads            every capri thread: id, name, state, where
#   (gdb) capri bt ID [bt-options] the backtrace of one capri thread
#   (gdb) capri bt all             ... of every capri thread
#   (gdb) capri scheds             the schedulers (kernel threads)
#
# ID is a thread's handle in decimal (what capri_self() returns and what the
# stack-overflow report prints), a thread name, or any gdb expression that
# evaluates to a handle (`capri bt sleeper_ids[0]`).
#
# Where things are (runtime/src): every capri thread's struct sits at the top
# of its first stack chunk, and the chunk pool's slot table (chunk_pool.c:
# pool.slots, slab_cls[], carve) has one entry per chunk: state CHUNK_THREAD
# and owner = the struct capri_thread. capri_rt (scheduler.h) has the
# schedulers; a scheduler's `current` is the context running on it and `tid`
# its kernel thread. The script reads the runtime's own DWARF types for the
# offsets, so libcapri needs its debug information (RelWithDebInfo has it).
#
# A switched-out thread's registers are in the saved context its `sp` points
# at (runtime/src/arch/x86_64.S): limit word, errno, mxcsr|x87 cw, r15, r14,
# r13, r12, rbx, rbp, return address; the stack pointer after popping them
# is sp + 80. `capri bt` unwinds it with a Python unwinder that, for the
# duration of the command only, makes the current thread's innermost frame
# "return" into that context: no register of the inferior is written, so it
# works the same in a live process and in a core file, and the current
# thread's own backtrace is untouched afterwards. The frames below the
# context are not printed, and the rest are renumbered from #0. gdb's unwind
# stops at capri_arch_entry (its CFI marks the return address undefined).
#
# Works with libcapri linked statically (capri_rt is hidden but in the
# symbol table and the DWARF) and with libcapri.so (after it is loaded).

import re
import struct

import gdb

try:
    from gdb.unwinder import Unwinder, register_unwinder
except ImportError:  # gdb without Python unwinders (before 7.10)
    Unwinder = object
    register_unwinder = None

# runtime/src/thread.h
THREAD_CANARY = 0x6361707269746864
RUN_STATES = {0: "new", 1: "ready", 2: "running", 3: "blocked", 4: "dead"}
THREAD_NEW, THREAD_READY, THREAD_RUNNING, THREAD_BLOCKED, THREAD_DEAD = range(5)
THREAD_CANCELLING = 1 << 5

# runtime/src/chunk_pool.h and chunk_pool.c (macros: not in the DWARF)
CHUNK_THREAD = 1
SLAB_SHIFT = 26
SLAB_SLOTS_SHIFT = 13
CHUNK_GUARD_SIZE = 4096
# chunk_pool.h: page classes 0..9 ((4 KiB << c) and a guard page), then the
# dense classes (512 + 64 k bytes, packed, no guard).
CHUNK_CLASSES = 10
CHUNK_DENSE_MIN = 512
CHUNK_DENSE_STEP = 64

# runtime/src/arch/x86_64.S: the saved context, from its stack pointer up.
CTX_LAYOUT = (("r15", 24), ("r14", 32), ("r13", 40), ("r12", 48),
              ("rbx", 56), ("rbp", 64), ("rip", 72))
CTX_SIZE = 80

MAX_FRAMES = 512


class CapriError(gdb.GdbError):
    pass


def _err(msg):
    raise CapriError("capri: " + msg)


# ---- finding the runtime ----------------------------------------------------

def _has_minsym(name):
    """A symbol-table (or dynamic) symbol, without debug information."""
    try:
        gdb.parse_and_eval("(long)&'%s'" % name)
        return True
    except gdb.error:
        return False


def _lookup_capri_rt():
    sym = None
    for look in (gdb.lookup_global_symbol, getattr(gdb, "lookup_static_symbol", None)):
        if look is None:
            continue
        try:
            sym = look("capri_rt")
        except gdb.error:
            sym = None
        if sym is not None and sym.is_variable:
            return sym
    for objfile in gdb.objfiles():
        for name in ("lookup_global_symbol", "lookup_static_symbol"):
            look = getattr(objfile, name, None)
            if look is None:
                continue
            try:
                sym = look("capri_rt")
            except gdb.error:
                sym = None
            if sym is not None and sym.is_variable:
                return sym
    return None


def _chunk_pool_static(name, objfile):
    """A file-static of chunk_pool.c in the objfile that holds capri_rt (a
    name like `pool` may also be a static of another file or library)."""
    candidates = []
    if hasattr(gdb, "lookup_static_symbols"):
        try:
            candidates = gdb.lookup_static_symbols(name)
        except gdb.error:
            candidates = []
    for sym in candidates:
        if (sym.symtab is not None and sym.symtab.filename.endswith("chunk_pool.c")
                and sym.symtab.objfile == objfile):
            return sym.value()
    try:
        return gdb.parse_and_eval("'chunk_pool.c'::%s" % name)
    except gdb.error:
        return None


# A string only libcapri has (config.c's environment names): survives strip.
_CAPRI_MARKER = b"CAPRI_SCHEDULERS"


def _file_has(path, needle, limit=1 << 30):
    try:
        with open(path, "rb") as f:
            tail = b""
            done = 0
            while done < limit:
                block = f.read(16 << 20)
                if not block:
                    return False
                if needle in tail + block:
                    return True
                tail = block[-len(needle):]
                done += len(block)
    except (IOError, OSError):
        return False
    return False


def _stripped_capri():
    paths = []
    main = gdb.current_progspace().filename
    if main:
        paths.append(main)
    for o in gdb.objfiles():
        name = o.filename or ""
        if "capri" in name.rsplit("/", 1)[-1] and name not in paths:
            paths.append(name)
    return any(_file_has(p, _CAPRI_MARKER) for p in paths)


def _have_target():
    inf = gdb.selected_inferior()
    if inf is None or inf.pid == 0 and not inf.threads():
        _err("no process or core file (run the program, attach, or load a core first)")


class Runtime(object):
    """libcapri's state in the inferior, read through its DWARF types."""

    def __init__(self):
        _have_target()
        sym = _lookup_capri_rt()
        if sym is None:
            if _has_minsym("capri_rt") or _has_minsym("capri_spawn") or \
                    _has_minsym("capri_arch_switch"):
                _err("libcapri is here but without its debug information (stripped, or "
                     "built without -g): the script reads the runtime's structs through "
                     "their DWARF types. Use an unstripped binary or its separate debug file "
                     "(objcopy --only-keep-debug / `symbol-file`, `set debug-file-directory`).")
            if _stripped_capri():
                _err("this is a stripped capri program: libcapri's symbols and debug "
                     "information are gone, and the script needs them (capri_rt, the chunk "
                     "pool's statics and their DWARF types). Debug an unstripped copy, or "
                     "load the debug information (`symbol-file FILE` / `add-symbol-file`, "
                     "or a .gnu_debuglink debug file).")
            _err("not a capri program: no capri_rt symbol (libcapri is linked statically, "
                 "or libcapri.so is loaded once the program runs)")
        self.objfile = sym.symtab.objfile if sym.symtab is not None else None
        self.runtime_dir = None
        if sym.symtab is not None:
            fn = sym.symtab.fullname() or sym.symtab.filename
            self.runtime_dir = fn.rsplit("/", 1)[0] + "/" if "/" in fn else None
        self.rt = sym.value()
        self.inferior = gdb.selected_inferior()
        scheds = self.rt["scheds"]
        self.nscheds = int(self.rt["nscheds"])
        if int(scheds) == 0 or self.nscheds == 0:
            _err("the capri runtime has not started yet (no capri call has been made)")
        self.scheds_addr = int(scheds)
        sched_t = scheds.type.target().strip_typedefs()
        self.sched_size = sched_t.sizeof
        self.sched_off = _offsets(sched_t, ("current", "index", "tid", "started", "ctx"))
        thread_t = sched_t["current"].type.target().strip_typedefs()
        self.thread_size = thread_t.sizeof
        self.thread_off = _offsets(thread_t, ("canary", "sp", "sched", "run_state", "flags",
                                              "handle", "fn", "arg", "extra", "heap_index"))
        # The name is in the side record (struct thread_extra), if any.
        extra_t = thread_t["extra"].type.target().strip_typedefs()
        self.name_off = _offsets(extra_t, ("name",))["name"]
        self.name_len = extra_t["name"].type.sizeof
        self._load_pool()

    def _load_pool(self):
        pool = _chunk_pool_static("pool", self.objfile)
        slab_cls = _chunk_pool_static("slab_cls", self.objfile)
        carve = _chunk_pool_static("carve", self.objfile)
        if pool is None or slab_cls is None or carve is None:
            _err("cannot find the chunk pool's slot table (pool, slab_cls, carve in "
                 "chunk_pool.c): does this libcapri match the script?")
        self.slots_addr = int(pool["slots"])
        if self.slots_addr == 0:
            _err("the capri runtime has not started yet (no chunk pool)")
        slot_t = pool["slots"].type.target().strip_typedefs()
        self.slot_size = slot_t.sizeof
        self.slot_off = _offsets(slot_t, ("state", "owner"))
        self.nslabs = int(pool["nslabs"])
        self.slabs_used = min(int(carve["slabs_used"]), self.nslabs)
        self.slab_cls_addr = int(slab_cls.address)
        self.carve_cur = [int(carve["cur"][i]) for i in range(carve["cur"].type.range()[1] + 1)]
        self.carve_next = [int(carve["next"][i]) for i in range(carve["next"].type.range()[1] + 1)]

    # -- memory

    def read(self, addr, size):
        return bytes(self.inferior.read_memory(addr, size))

    # -- schedulers

    def sched(self, i):
        base = self.scheds_addr + i * self.sched_size
        o = self.sched_off
        return {
            "index": i,
            "addr": base,
            "current": _u64(self.read(base + o["current"], 8)),
            "tid": _s64(self.read(base + o["tid"], 8)),
            "started": _u32(self.read(base + o["started"], 4)),
            "ctx": base + o["ctx"],
        }

    def scheds(self):
        return [self.sched(i) for i in range(self.nscheds)]

    def sched_index(self, addr):
        if addr < self.scheds_addr:
            return None
        i, rem = divmod(addr - self.scheds_addr, self.sched_size)
        return i if rem == 0 and i < self.nscheds else None

    # -- threads

    def thread(self, addr):
        raw = self.read(addr, self.thread_size)
        o = self.thread_off
        name = b""
        extra = _u64(raw, o["extra"])
        if extra:
            try:
                name = self.read(extra + self.name_off, self.name_len).split(b"\0", 1)[0]
            except gdb.MemoryError:
                name = b"?"
        t = {
            "addr": addr,
            "canary": _u64(raw, o["canary"]),
            "sp": _u64(raw, o["sp"]),
            "sched": _u64(raw, o["sched"]),
            "run_state": _u32(raw, o["run_state"]),
            "flags": _u32(raw, o["flags"]),
            "handle": _u64(raw, o["handle"]),
            "fn": _u64(raw, o["fn"]),
            "arg": _u64(raw, o["arg"]),
            "name": name.decode("utf-8", "replace"),
            "heap_index": struct.unpack_from("<i", raw, o["heap_index"])[0],
        }
        t["sched_index"] = self.sched_index(t["sched"])
        return t

    def threads(self):
        """Every struct capri_thread the slot table names (CHUNK_THREAD)."""
        out = []
        slots_per_slab = 1 << SLAB_SLOTS_SHIFT
        ncls = len(self.carve_cur)
        if self.slabs_used <= 0:
            return out
        classes = self.read(self.slab_cls_addr, self.slabs_used)
        so = self.slot_off
        for slab in range(self.slabs_used):
            c = classes[slab]
            if c == 0 or c > ncls:
                continue
            c -= 1
            if c < CHUNK_CLASSES:
                stride = (4096 << c) + CHUNK_GUARD_SIZE
            else:
                stride = CHUNK_DENSE_MIN + CHUNK_DENSE_STEP * (c - CHUNK_CLASSES)
            n = min((1 << SLAB_SHIFT) // stride, slots_per_slab)
            if self.carve_cur[c] == slab:
                n = min(n, self.carve_next[c])  # the rest is not carved yet (all zero)
            if n <= 0:
                continue
            base = self.slots_addr + slab * slots_per_slab * self.slot_size
            try:
                table = self.read(base, n * self.slot_size)
            except gdb.MemoryError:
                continue
            for i in range(n):
                e = i * self.slot_size
                if table[e + so["state"]] != CHUNK_THREAD:
                    continue
                owner = _u64(table, e + so["owner"])
                if owner == 0:
                    continue
                slot = (slab << SLAB_SLOTS_SHIFT) | i
                try:
                    t = self.thread(owner)
                except gdb.MemoryError:
                    continue
                t["slot_index"] = slot
                out.append(t)
        out.sort(key=lambda t: t["slot_index"])
        return out

    def find(self, handle):
        for t in self.threads():
            if t["handle"] == handle:
                return t
        return None

    def is_current(self, t):
        """The scheduler t runs on (dict) if t is its running context."""
        i = t["sched_index"]
        if i is None or t["run_state"] != THREAD_RUNNING:
            return None
        s = self.sched(i)
        return s if s["current"] == t["addr"] else None

    # -- the saved context of a switched-out thread

    def saved_context(self, t):
        sp = t["sp"]
        if sp == 0:
            _err("thread %d has no saved context" % t["handle"])
        raw = self.read(sp, CTX_SIZE)
        regs = dict((reg, _u64(raw, off)) for reg, off in CTX_LAYOUT)
        regs["rsp"] = sp + CTX_SIZE
        return regs

    # -- is a frame libcapri's own?

    def is_internal(self, frame):
        name = frame.name() or ""
        if name.startswith("capri_arch_"):
            return True
        fn = frame.function()
        symtab = fn.symtab if fn is not None else None
        if symtab is None:
            sal = frame.find_sal()
            symtab = sal.symtab if sal is not None else None
        if symtab is not None:
            if self.objfile is not None and symtab.objfile == self.objfile and \
                    self.objfile.filename != gdb.current_progspace().filename:
                return True  # libcapri.so
            path = symtab.fullname() or symtab.filename
            if self.runtime_dir and path.startswith(self.runtime_dir):
                return True
            return False
        solib = gdb.solib_name(frame.pc())
        return bool(solib and "libcapri" in solib)


def _offsets(t, names):
    out = {}
    fields = dict((f.name, f) for f in t.fields())
    for n in names:
        f = fields.get(n)
        if f is None or not hasattr(f, "bitpos"):
            _err("struct %s has no field %s: does this libcapri match the script?" % (t.tag, n))
        out[n] = f.bitpos // 8
    return out


def _u64(raw, off=0):
    return struct.unpack_from("<Q", raw, off)[0]


def _s64(raw, off=0):
    return struct.unpack_from("<q", raw, off)[0]


def _u32(raw, off=0):
    return struct.unpack_from("<I", raw, off)[0]


# ---- unwinding a switched-out thread ----------------------------------------

class _FrameId(object):
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _ContextUnwinder(Unwinder):
    """While armed, claims the innermost real frame of the selected thread
    (identified by its pc and sp) and gives it the saved context as its
    caller: the frames above are the switched-out thread's."""

    def __init__(self):
        super(_ContextUnwinder, self).__init__("capri-context")
        self.armed = None  # (pc, sp, regs)
        self.long_t = None

    def _value(self, v):
        if v >= 1 << 63:
            v -= 1 << 64
        return gdb.Value(v).cast(self.long_t)

    def __call__(self, pending_frame):
        armed = self.armed
        if armed is None:
            return None
        pc, sp, regs = armed
        try:
            if int(pending_frame.read_register("rip")) != pc or \
                    int(pending_frame.read_register("rsp")) != sp:
                return None
        except (gdb.error, ValueError):
            return None
        # An id below the context (inner to it), so that gdb's check that
        # callers are outer does not trip on the jump to another stack.
        info = pending_frame.create_unwind_info(
            _FrameId(self._value(regs["rsp"] - CTX_SIZE), self._value(pc)))
        for reg, val in regs.items():
            info.add_saved_register(reg, self._value(val))
        return info


_unwinder = _ContextUnwinder()
if register_unwinder is not None:
    register_unwinder(None, _unwinder, replace=True)


def _selected_frame_level():
    try:
        return gdb.selected_frame().level()
    except gdb.error:
        return 0


def _select_level(level):
    try:
        f = gdb.newest_frame()
        while f is not None and f.level() < level:
            f = f.older()
        if f is not None:
            f.select()
    except gdb.error:
        pass


class _SwitchedOut(object):
    """with _SwitchedOut(rt, t) as resume_level: the selected thread's frames
    from resume_level on are t's (the frame at the resume point first)."""

    def __init__(self, rt, t):
        self.rt = rt
        self.t = t

    def __enter__(self):
        if register_unwinder is None:
            _err("this gdb has no Python unwinders (gdb 7.10 or later is needed)")
        regs = self.rt.saved_context(self.t)
        self.level = _selected_frame_level()
        try:
            f0 = gdb.newest_frame()
            while f0.type() == gdb.INLINE_FRAME and f0.older() is not None:
                f0 = f0.older()
            pc = int(f0.read_register("rip"))
            sp = int(f0.read_register("rsp"))
        except gdb.error as e:
            _err("cannot read the selected thread's registers (%s); is the process stopped?" % e)
        _unwinder.long_t = gdb.lookup_type("long")
        _unwinder.armed = (pc, sp, regs)
        gdb.invalidate_cached_frames()
        try:
            resume = None
            f = gdb.newest_frame()
            while f is not None and f.level() <= MAX_FRAMES:
                if f.pc() == regs["rip"] and int(f.read_register("rsp")) == regs["rsp"]:
                    resume = f.level()
                    break
                f = f.older()
        except gdb.error:
            resume = None
        if resume is None:
            self.__exit__(None, None, None)
            _err("could not unwind thread %d from its saved context (sp=%#x)"
                 % (self.t["handle"], self.t["sp"]))
        self.resume = resume
        return resume

    def __exit__(self, *exc):
        _unwinder.armed = None
        gdb.invalidate_cached_frames()
        _select_level(self.level)
        return False


def _frames_from(level):
    f = gdb.newest_frame()
    while f is not None and f.level() < level:
        f = f.older()
    n = 0
    while f is not None and n < MAX_FRAMES:
        yield f
        n += 1
        try:
            f = f.older()
        except gdb.error:
            return


def _frame_text(f):
    name = f.name() or "0x%x" % f.pc()
    sal = f.find_sal()
    if sal is not None and sal.symtab is not None and sal.line:
        return "%s at %s:%d" % (name, sal.symtab.filename.rsplit("/", 1)[-1], sal.line)
    return name


def _where(rt, level):
    """The first frame from `level` on that is not libcapri's, with the
    libcapri function it called (capri_sleep_ns, capri_join, ...)."""
    last_internal = None
    first = None
    for f in _frames_from(level):
        if first is None:
            first = f
        if rt.is_internal(f):
            last_internal = f.name()
            continue
        text = _frame_text(f)
        if last_internal:
            text += " (in %s)" % last_internal
        return text
    return _frame_text(first) if first is not None else "?"


def _symbol_at(addr):
    try:
        block = gdb.block_for_pc(addr)
        while block is not None and block.function is None:
            block = block.superblock
        if block is not None and block.function is not None:
            return block.function.print_name
    except (RuntimeError, gdb.error):
        pass
    try:
        s = gdb.execute("info symbol %#x" % addr, to_string=True).split()
        if s and s[0] != "No":
            return s[0]
    except gdb.error:
        pass
    return "%#x" % addr


class _OnKernelThread(object):
    """with _OnKernelThread(lwp): the gdb thread of that LWP is selected
    (the selected thread and frame come back afterwards)."""

    def __init__(self, lwp):
        self.lwp = lwp

    def __enter__(self):
        self.thread = gdb.selected_thread()
        self.level = _selected_frame_level()
        target = None
        for th in gdb.selected_inferior().threads():
            if th.ptid[1] == self.lwp or (th.ptid[1] == 0 and th.ptid[0] == self.lwp):
                target = th
        if target is None:
            _err("no gdb thread has LWP %d" % self.lwp)
        self.switched = target != self.thread
        if self.switched:
            target.switch()
        return target

    def __exit__(self, *exc):
        if self.switched and self.thread is not None and self.thread.is_valid():
            self.thread.switch()
            _select_level(self.level)
        return False


def _selected_lwp():
    th = gdb.selected_thread()
    if th is None:
        return None
    return th.ptid[1] or th.ptid[0]


def _state_text(t, s):
    st = t["run_state"]
    if s is not None:
        return "running on scheduler %d (LWP %d)" % (s["index"], s["tid"])
    text = RUN_STATES.get(st, "state %d" % st)
    if st == THREAD_RUNNING:
        text = "running? (not its scheduler's current)"
    if st == THREAD_BLOCKED and t["heap_index"] >= 0:
        text += ", timed"
    if t["flags"] & THREAD_CANCELLING:
        text += ", cancelling"
    return text


def _parse_id(rt, arg):
    arg = arg.strip()
    if not arg:
        _err("which thread? give its id (capri_self()'s value), its name, or `all`")
    try:
        return rt.find(int(arg, 0)), int(arg, 0)
    except ValueError:
        pass
    named = [t for t in rt.threads() if t["name"] == arg]
    if len(named) == 1:
        return named[0], arg
    if len(named) > 1:
        _err("%d threads are named %s; use an id: %s"
             % (len(named), arg, ", ".join(str(t["handle"]) for t in named)))
    try:
        v = int(gdb.parse_and_eval(arg))
    except gdb.error as e:
        _err("no capri thread named %s, and it is no expression (%s)" % (arg, e))
    return rt.find(v & 0xffffffffffffffff), v


# ---- commands -----------------------------------------------------------------

class CapriPrefix(gdb.Command):
    """Commands for libcapri's user-level threads.

capri threads [-q]        list every capri thread (-q: without where it is)
capri bt ID|NAME|all [OPTIONS]
                          backtrace of a capri thread (OPTIONS as for bt:
                          full, -frame-arguments all, a count, ...)
capri scheds              list the schedulers (one kernel thread each)"""

    def __init__(self):
        super(CapriPrefix, self).__init__("capri", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class CapriThreads(gdb.Command):
    """List every capri thread: id, name, state, scheduler, where it is.

Usage: capri threads [-q]
The id is the thread's handle, as capri_self() returns it. The state is
running on scheduler N (with its kernel thread's LWP), ready, blocked, new or
dead. Where it is: for a switched-out thread, the first function above
libcapri's own frames (with the libcapri function it is in); for a running
one, the same on its kernel thread; for a new one, its start function.
-q leaves out where (no unwinding: quicker with many threads).
The thread running on the selected gdb thread is marked with *."""

    def __init__(self):
        super(CapriThreads, self).__init__("capri threads", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        quick = arg.strip() in ("-q", "--quick")
        if arg.strip() and not quick:
            _err("usage: capri threads [-q]")
        rt = Runtime()
        threads = rt.threads()
        here = _selected_lwp()
        rows = []
        for t in threads:
            s = rt.is_current(t)
            state = _state_text(t, s)
            where = ""
            if t["canary"] != THREAD_CANARY:
                state += " (bad canary: overwritten?)"
            elif not quick:
                where = self._where(rt, t, s)
            mark = "*" if s is not None and s["tid"] == here else " "
            sched = "-" if t["sched_index"] is None else str(t["sched_index"])
            rows.append((mark, str(t["handle"]), t["name"] or "-", state, sched, where))
        if not rows:
            gdb.write("No capri threads.\n")
            return
        head = (" ", "Id", "Name", "State", "Sched", "" if quick else "Where")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
        for r in [head] + rows:
            line = "%s %s  %s  %s  %s  %s" % (r[0], r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                             r[3].ljust(widths[3]), r[4].ljust(widths[4]), r[5])
            gdb.write(line.rstrip() + "\n")

    @staticmethod
    def _where(rt, t, s):
        try:
            if s is not None:
                with _OnKernelThread(s["tid"]):
                    return _where(rt, 0)
            st = t["run_state"]
            if st == THREAD_NEW:
                return "not started: %s" % _symbol_at(t["fn"])
            if st == THREAD_DEAD:
                return "-"
            if t["sp"] == 0:
                return "?"
            with _SwitchedOut(rt, t) as level:
                return _where(rt, level)
        except (gdb.error, gdb.GdbError) as e:
            return "? (%s)" % str(e).replace("capri: ", "")


_FRAME_LINE = re.compile(r"^#(\d+)(\s+)(.*)$", re.S)


class CapriBt(gdb.Command):
    """Print the backtrace of a capri thread.

Usage: capri bt ID|NAME|all [OPTIONS]
ID is the handle (decimal, as capri_self() returns and the stack-overflow
report prints; hex with 0x), a thread name, or a gdb expression giving a
handle. OPTIONS go to gdb's bt (full, -frame-arguments all, a frame count).
A running thread's backtrace is its kernel thread's (the gdb thread with its
scheduler's LWP). A switched-out thread is unwound from its saved context;
this writes no register, so it works in core files too. The backtrace ends
at the thread's entry (capri_arch_entry)."""

    def __init__(self):
        super(CapriBt, self).__init__("capri bt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            _err("usage: capri bt ID|NAME|all [bt options]")
        rt = Runtime()
        opts = argv[1:]
        if argv[0] == "all":
            for t in rt.threads():
                try:
                    self._bt(rt, t, opts)
                except (gdb.error, gdb.GdbError) as e:
                    gdb.write("%s\n" % e)
                gdb.write("\n")
            return
        t, given = _parse_id(rt, argv[0])
        if t is None:
            _err("no capri thread with id %s (not a handle, a stale handle, or the thread "
                 "has been reaped; `capri threads` lists the live ones)" % given)
        self._bt(rt, t, opts)

    def _bt(self, rt, t, opts):
        s = rt.is_current(t)
        state = _state_text(t, s)
        name = ' "%s"' % t["name"] if t["name"] else ""
        gdb.write("Capri thread %d%s, %s:\n" % (t["handle"], name, state))
        if t["canary"] != THREAD_CANARY:
            _err("thread %d: its struct's canary is wrong (overwritten?)" % t["handle"])
        if s is not None:
            with _OnKernelThread(s["tid"]):
                gdb.execute("bt " + " ".join(opts))
            return
        st = t["run_state"]
        if st == THREAD_NEW:
            gdb.write("not started yet: it will run %s (arg %#x)\n" % (_symbol_at(t["fn"]), t["arg"]))
            return
        if st == THREAD_DEAD:
            gdb.write("finished: its stack is gone (it waits to be joined)\n")
            return
        with _SwitchedOut(rt, t) as level:
            skip = level
            # A count of frames counts from the thread's own #0.
            bt_opts = []
            for o in opts:
                if re.match(r"^\d+$", o):
                    o = str(int(o) + skip)
                bt_opts.append(o)
            text = gdb.execute("bt " + " ".join(bt_opts), to_string=True)
        gdb.write(_renumber(text, skip))


def _renumber(text, skip):
    """Drops the frames below the thread's own (#0 .. #skip-1, with their
    continuation lines) and renumbers the rest from #0."""
    out = []
    keep = True
    for line in text.splitlines(True):
        m = _FRAME_LINE.match(line)
        if m:
            n = int(m.group(1))
            keep = n >= skip
            if keep:
                out.append("#%-2d %s" % (n - skip, m.group(3).lstrip()))
            continue
        if keep:
            out.append(line)
    return "".join(out)


class CapriScheds(gdb.Command):
    """List libcapri's schedulers (kernel threads) and what each runs.

For each: its index, its kernel thread's LWP, and the context running on
it (a capri thread, or the scheduler's own context when it is idle or
between threads)."""

    def __init__(self):
        super(CapriScheds, self).__init__("capri scheds", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        rt = Runtime()
        for s in rt.scheds():
            if not s["started"]:
                gdb.write("scheduler %d: not started\n" % s["index"])
                continue
            cur = s["current"]
            if cur == s["ctx"]:
                what = "its own context (idle or between threads)"
            elif cur == 0:
                what = "nothing"
            else:
                try:
                    t = rt.thread(cur)
                    what = 'capri thread %d "%s"' % (t["handle"], t["name"])
                except gdb.MemoryError:
                    what = "%#x (unreadable)" % cur
            gdb.write("scheduler %d: LWP %d, running %s\n" % (s["index"], s["tid"], what))


CapriPrefix()
CapriThreads()
CapriBt()
CapriScheds()
