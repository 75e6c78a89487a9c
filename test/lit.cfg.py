# lit configuration for capri: pass IR tests, end-to-end C programs, tool tests.
import os
import shutil

import lit.formats

# The build's paths come from the generated capri_site.py; by default the one
# in build/ next to the sources, or the one named with --param.
_site = lit_config.params.get("capri_site_config") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "test", "capri_site.py")
if not os.path.exists(_site):
    lit_config.fatal(f"no capri build found at {_site}: run 'make build' first")
lit_config.load_config(config, _site)

config.name = "capri"
config.test_format = lit.formats.ShTest(not lit_config.useValgrind)
config.suffixes = [".ll", ".c", ".cpp", ".test"]
# install/ is a sample project for test/install/run.sh (ctest), not lit tests.
config.excludes = ["Inputs", "CMakeLists.txt", "install"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.capri_obj_root, "test")

# Tools come from the LLVM the plugin was built against.
config.environment["PATH"] = os.pathsep.join(
    [config.capri_bin, config.llvm_bin, config.environment.get("PATH", "")])
for var in ["HOME", "TMPDIR", "LANG", "ASAN_OPTIONS", "UBSAN_OPTIONS"]:
    if var in os.environ:
        config.environment[var] = os.environ[var]
# Sanitized tools must fail loudly, not limp on.
config.environment.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
config.environment.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")

plugin = config.capri_plugin
clang = config.clang
opt = os.path.join(config.llvm_bin, "opt")

config.substitutions.append(("%plugin", plugin))
config.substitutions.append(("%opt-capri", f"{opt} -load-pass-plugin={plugin} -load {plugin}"))
# Plain clang with the plugin loaded both ways, so -mllvm -capri-... works.
config.substitutions.append(
    ("%clang-capri", f"{clang} -fpass-plugin={plugin} -Xclang -load -Xclang {plugin}"))
config.substitutions.append(("%clang", clang))
config.substitutions.append(("%capri-stack", os.path.join(config.capri_bin, "capri-stack")))
config.substitutions.append(("%capri-cc", os.path.join(config.capri_bin, "capri-cc")))
config.substitutions.append(("%capri-graph", os.path.join(config.capri_bin, "capri-graph")))
config.substitutions.append(("%ld.lld", os.path.join(config.llvm_bin, "ld.lld")))
config.substitutions.append(("%src_root", config.capri_src_root))
# Linking a program against this build's libcapri (sanitized in the
# sanitizer build, so the program must be too).
_rt_link = os.path.join(config.capri_lib, "libcapri.a") + " -lpthread -ldl"
if getattr(config, "capri_sanitized", False):
    _rt_link += " -fsanitize=address,undefined"
config.substitutions.append(("%capri-rt-link", _rt_link))

if config.capri_sanitized:
    config.available_features.add("asan")
if shutil.which("dot"):
    config.available_features.add("graphviz")

# --param verify_stacks=1: every program runs in stack verification mode
# (CAPRI_VERIFY_STACKS=1: each checkpoint grows onto a painted chunk, which
# is scanned when the call returns). Tests that count chunks or time
# growths say `UNSUPPORTED: verify-stacks`.
# Its outputs go to a tree of their own, so both runs can go at once.
if lit_config.params.get("verify_stacks", "0") not in ("", "0"):
    config.environment["CAPRI_VERIFY_STACKS"] = "1"
    config.available_features.add("verify-stacks")
    config.test_exec_root = os.path.join(config.capri_obj_root, "test-verify-stacks")
