#!/usr/bin/env python3
"""Write a C file that defines functions and a hand-made capri metadata record.

Compiling the output with clang (-fstack-size-section) gives a real ELF object
with a capri_meta section whose address table is relocated against the real
functions, so capri-stack can be tested without the plugin.

Input: a small line-based description (file argument or stdin):

    module source=demo.c flags=coarse version=1.0
    fn main file=demo.c line=10 frame=64 flags=address_taken type=0x11 ir=0x22
      call named helper line=12
      call local other line=13
      call indirect type=0x11 ir=0x22 line=14 flags=cast
      call asm line=15
    fn other linkage=static frame=48 stack=100 bound=4
    ref callback type=0x11 ir=0x22
    alias other_name fn=other linkage=weak

    site direct primitive=read line=16 live=64 dead=4096 dead_objects=buf=4096

`site` (metadata 1.3) is a yield site on the call line before it; keys:
kind (direct|transitive|unknown, the first word), flags(stored,no_lifetimes,
indirect) line column frame live dead primitive dead_objects.
`fn` keys: file line frame allocas spills linkage(external|static|weak)
align(log2) flags(comma list) type ir bound stack(local array bytes in the
generated body) nodef(no C definition; address slot 0).
`call` kinds: local NAME, named NAME, indirect, asm; keys: file line type ir
flags region(external_region) mark(external_region, flagged as a measured
mark: CAPRI_MD_CALLF2_MARK). `alias` NAME keys: fn (the function it names;
required) linkage (external|static|weak; default external); the C file gets
a matching __attribute__((alias)) unless the function is nodef. `module`
keys: source producer triple flags(lto,coarse) version(M.m; default the
version in runtime/metadata/capri_metadata.h), call_entry_size (default 28,
the 1.2 entry; 24 leaves out external_region) and, to build corrupt records
on purpose, set_record_size set_header_size set_function_count fn_entry_size
alias_entry_size alias_fn(an index written as is into every alias entry)
pad_before(bytes of zeros before the record).
"""
import os
import re
import struct
import sys

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                      "runtime", "metadata", "capri_metadata.h")


def header_version():
    """The format version this source tree writes, from the header's constants."""
    text = open(HEADER).read()
    major = re.search(r"#define CAPRI_MD_VERSION_MAJOR (\d+)u", text).group(1)
    minor = re.search(r"#define CAPRI_MD_VERSION_MINOR (\d+)u", text).group(1)
    return f"{major}.{minor}"


FN_FLAGS = {
    "dynamic_alloca": 1 << 0, "inline_asm": 1 << 1, "returns_twice": 1 << 2,
    "variadic": 1 << 3, "address_taken": 1 << 4, "sanitized": 1 << 5,
    "recursion_bound": 1 << 6, "optnone": 1 << 7, "type_coarse": 1 << 8,
    "leaf": 1 << 9, "no_red_zone": 1 << 10,
}
CALL_FLAGS = {"tail": 1, "invoke": 2, "callbr": 4, "type_coarse": 8, "codegen": 16, "cast": 32}
CALL_FLAGS2_MARK = 1
CALL_KINDS = {"local": 0, "named": 1, "indirect": 2, "asm": 3}
LINKAGE = {"external": 0, "static": 1, "weak": 2}
MODULE_FLAGS = {"lto": 1, "coarse": 2, "yield_sites": 64}
YIELD_KINDS = {"direct": 0, "transitive": 1, "unknown": 2}
YIELD_FLAGS = {"stored": 1, "no_lifetimes": 2, "indirect": 4}


def parse_int(text):
    return int(text, 0)


def flags_of(text, table):
    value = 0
    for name in filter(None, text.split(",")):
        value |= table[name]
    return value


def keys(words):
    out = {}
    for w in words:
        k, _, v = w.partition("=")
        out[k] = v
    return out


def parse(lines):
    module = {}
    fns, refs, aliases = [], [], []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "module":
            module = keys(words[1:])
        elif words[0] == "fn":
            fns.append({"name": words[1], "keys": keys(words[2:]), "calls": []})
        elif words[0] == "call":
            kind = words[1]
            target = words[2] if kind in ("local", "named") else None
            rest = words[3:] if target else words[2:]
            fns[-1]["calls"].append({"kind": kind, "target": target, "keys": keys(rest),
                                     "sites": []})
        elif words[0] == "site":
            site_keys = {}
            for w in words[2:]:
                k, _, v = w.partition("=")
                site_keys[k] = v
            fns[-1]["calls"][-1]["sites"].append({"kind": words[1], "keys": site_keys})
        elif words[0] == "ref":
            refs.append({"name": words[1], "keys": keys(words[2:])})
        elif words[0] == "alias":
            aliases.append({"name": words[1], "keys": keys(words[2:])})
        else:
            sys.exit(f"mkcapri: unknown line: {raw!r}")
    return module, fns, refs, aliases


class Strings:
    def __init__(self):
        self.data = bytearray(b"\0")
        self.index = {"": 0}

    def __call__(self, s):
        if s not in self.index:
            self.index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self.index[s]


def section(tag, payload):
    out = struct.pack("<II", tag, len(payload)) + payload
    return out + b"\0" * (-len(out) % 4)


def build(module, fns, refs, aliases):
    strs = Strings()
    source = module.get("source", "")
    names = [f["name"] for f in fns]
    fn_entries, call_entries, site_entries = [], [], []
    for fi, f in enumerate(fns):
        k = f["keys"]
        fflags = flags_of(k.get("flags", ""), FN_FLAGS)
        bound = parse_int(k.get("bound", "0"))
        if bound:
            fflags |= FN_FLAGS["recursion_bound"]
        first_call = len(call_entries)
        file = k.get("file", source)
        for c in f["calls"]:
            ck = c["keys"]
            kind = CALL_KINDS[c["kind"]]
            if c["kind"] == "local":
                callee = names.index(c["target"])
            elif c["kind"] == "named":
                callee = strs(c["target"])
            else:
                callee = 0
            flags2 = CALL_FLAGS2_MARK if "mark" in ck else 0
            region = parse_int(ck.get("mark", ck.get("region", "0")))
            call_entries.append(struct.pack(
                "<BBBBIIIIII", kind, flags_of(ck.get("flags", ""), CALL_FLAGS), flags2, 0,
                callee, parse_int(ck.get("type", "0")), parse_int(ck.get("ir", "0")),
                strs(ck.get("file", file)), parse_int(ck.get("line", "0")), region))
            for y in c["sites"]:
                yk = y["keys"]
                site_entries.append(struct.pack(
                    "<IIBBHIIIIIIII", fi, len(call_entries) - 1, YIELD_KINDS[y["kind"]],
                    flags_of(yk.get("flags", ""), YIELD_FLAGS), 0, strs(yk.get("file", file)),
                    parse_int(yk.get("line", "0")), parse_int(yk.get("column", "0")),
                    parse_int(yk.get("frame", "0")), parse_int(yk.get("live", "0")),
                    strs(yk.get("primitive", "")), parse_int(yk.get("dead", "0")),
                    strs(yk.get("dead_objects", ""))))
        fn_entries.append(struct.pack(
            "<IIIBBHIIIIIIII", strs(f["name"]), strs(file), parse_int(k.get("line", "0")),
            LINKAGE[k.get("linkage", "external")], parse_int(k.get("align", "0")), fflags,
            parse_int(k.get("frame", "32")), parse_int(k.get("allocas", "0")),
            parse_int(k.get("spills", "0")), parse_int(k.get("type", "0")),
            parse_int(k.get("ir", "0")), first_call, len(f["calls"]), bound))
    ref_entries = [struct.pack("<IIII", strs(r["name"]), parse_int(r["keys"].get("type", "0")),
                               parse_int(r["keys"].get("ir", "0")),
                               flags_of(r["keys"].get("flags", ""), FN_FLAGS)) for r in refs]
    alias_entries = []
    for a in aliases:
        k = a["keys"]
        index = parse_int(module["alias_fn"]) if "alias_fn" in module else names.index(k["fn"])
        alias_entries.append(struct.pack("<IIB3x", strs(a["name"]), index,
                                         LINKAGE[k.get("linkage", "external")]))
    mod_entry = struct.pack("<IIII", strs(source), strs(module.get("producer", "mkcapri")),
                            strs(module.get("triple", "x86_64-pc-linux-gnu")), 0)

    fn_size = parse_int(module.get("fn_entry_size", "48"))
    call_size = parse_int(module.get("call_entry_size", "28"))

    def table(entries, size):
        body = b"".join(e[:size] + b"\0" * max(0, size - len(e)) for e in entries)
        return struct.pack("<II", size, len(entries)) + body

    rest = section(2, mod_entry) + section(3, table(fn_entries, fn_size))
    if call_entries:
        rest += section(4, table(call_entries, call_size))
    if ref_entries:
        rest += section(5, table(ref_entries, 16))
    if alias_entries:
        rest += section(6, table(alias_entries, parse_int(module.get("alias_entry_size", "12"))))
    if site_entries:
        rest += section(8, table(site_entries, 44))
    rest = section(1, bytes(strs.data)) + rest
    rest += b"\0" * (-len(rest) % 8)

    major, _, minor = module.get("version", header_version()).partition(".")
    record_size = 48 + 8 * len(fns) + len(rest)
    head = struct.pack("<IHHIIIIQQQ", 0x49525043, int(major), int(minor or 0),
                       parse_int(module.get("set_record_size", str(record_size))),
                       parse_int(module.get("set_header_size", "48")),
                       flags_of(module.get("flags", ""), MODULE_FLAGS),
                       parse_int(module.get("set_function_count", str(len(fns)))), 0, 0, 0)
    return head, rest


def c_bytes(data):
    return ", ".join(str(b) for b in data) or "0"


def emit(module, fns, refs, aliases, out):
    head, rest = build(module, fns, refs, aliases)
    out.write("/* Generated by test/tools/Inputs/mkcapri.py: a hand-made capri record. */\n")
    for f in fns:
        k = f["keys"]
        if "nodef" in k:
            continue
        linkage = k.get("linkage", "external")
        attrs = "__attribute__((noinline, used%s))" % (", weak" if linkage == "weak" else "")
        storage = "static " if linkage == "static" else ""
        stack = parse_int(k.get("stack", "0"))
        if stack:
            body = ("volatile char buf[%d]; buf[0] = 1; return buf[0];" % stack)
        else:
            body = "return 0;"
        out.write(f"{storage}{attrs} int {f['name']}(void) {{ {body} }}\n")
    defined = {f["name"] for f in fns if "nodef" not in f["keys"]}
    for a in aliases:
        target = a["keys"].get("fn")
        if target not in defined:
            continue
        linkage = a["keys"].get("linkage", "external")
        storage = "static " if linkage == "static" else ""
        weak = "weak, " if linkage == "weak" else ""
        out.write(f'{storage}int {a["name"]}(void) __attribute__(({weak}alias("{target}"), used));\n')
    pad = parse_int(module.get("pad_before", "0"))
    out.write("struct capri_record {\n")
    if pad:
        out.write(f"    unsigned char pad[{pad}];\n")
    out.write("    unsigned char head[48];\n")
    if fns:
        out.write(f"    void *addr[{len(fns)}];\n")
    out.write(f"    unsigned char rest[{max(len(rest), 8)}];\n}};\n")
    out.write('__attribute__((section("capri_meta"), used, aligned(8)))\n')
    out.write("static struct capri_record capri_record = {\n")
    if pad:
        out.write("    {0},\n")
    out.write(f"    {{{c_bytes(head)}}},\n")
    if fns:
        addrs = ", ".join("0" if "nodef" in f["keys"] else f"(void *)&{f['name']}" for f in fns)
        out.write(f"    {{{addrs}}},\n")
    out.write(f"    {{{c_bytes(rest)}}},\n}};\n")


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 and sys.argv[1] != "-" else sys.stdin.read()
    module, fns, refs, aliases = parse(text.splitlines())
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    emit(module, fns, refs, aliases, out)


if __name__ == "__main__":
    main()
