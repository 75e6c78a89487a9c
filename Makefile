# Thin driver over CMake. `make demo` and `make check` work from a fresh clone:
# they install what is missing, configure, build, and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
LLVM_BIN   := /usr/lib/llvm-19/bin
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo \
              -DCMAKE_C_COMPILER=$(LLVM_BIN)/clang -DCMAKE_CXX_COMPILER=$(LLVM_BIN)/clang++

.PHONY: all deps build demo knot check check-slow verify-lua bench-compile bench-switch bench-runtime bench-growth bench-hot-split bench-loops clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DCAPRI_SANITIZE=ON -DCAPRI_FUZZ=OFF \
	      -DCAPRI_PLUGIN_PATH=$(abspath $(BUILD))/lib/CapriPlugin.so

# The main job: compile a multi-file example with the plugin, run it, show its stack report.
demo: build
	@$(MAKE) --no-print-directory -C examples/demo BUILD=$(abspath $(BUILD))

# Knot, the example web server (examples/knot): serve examples/knot/www
# until Ctrl-C. KNOT_PORT picks the port.
KNOT_PORT ?= 8080
knot: build
	$(BUILD)/bin/knot --root examples/knot/www --port $(KNOT_PORT)

$(TSAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(TSAN_BUILD) $(CMAKE_FLAGS) -DCAPRI_TSAN=ON

# All tests: lit (plugin, end to end, tools), C unit tests (the runtime's
# against libcapri.a and libcapri.so), bounded fuzzing runs and the Lua
# verification through ctest; then capri's C code again under ASan+UBSan,
# and the runtime under ThreadSanitizer.
check: build $(ASAN_BUILD)/CMakeCache.txt $(TSAN_BUILD)/CMakeCache.txt
	cd $(BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure --timeout 900 -j $(JOBS)

# The slow tier: the stack-bound verification on Lua 5.4 from Debian's sources.
verify-lua: build
	./bench/lua-verify.sh $(abspath $(BUILD))

# The slow tier (CI runs it after check): Lua 5.4 from Debian's sources,
# its frame estimates checked against the backend, and its errors caught
# across linked chunks with _FORTIFY_SOURCE=2, per file and under LTO; then
# Knot under a 60 s churn soak (after a 10 s warm-up) and with 3,000
# slowloris connections left for its 30 s read timeout to close. Last,
# GNU hello from Debian's sources: CC=capri-cc ./configure && make.
check-slow: build
	./bench/lua-verify.sh $(abspath $(BUILD))
	./test/slow/lua-growth.sh $(abspath $(BUILD))
	python3 test/knot/knot_reliability.py $(abspath $(BUILD))/bin/knot soak --duration 60 --warmup 10
	python3 test/knot/knot_reliability.py $(abspath $(BUILD))/bin/knot slowloris --idle-timeout
	./test/autotools/run.sh $(abspath $(BUILD))

# capri-stack as a CI gate on the examples (Knot and the demo's calc): the
# build fails on unbounded recursion; the SARIF reports are left in
# $(BUILD)/capri-stack/ for a CI to upload. .ci/run runs it after check.
.PHONY: check-stack
check-stack: build
	@$(MAKE) --no-print-directory -C examples/demo BUILD=$(abspath $(BUILD)) $(abspath $(BUILD))/examples/demo/calc
	@mkdir -p $(BUILD)/capri-stack
	$(BUILD)/bin/capri-stack --fail-on=recursion --format sarif --output $(BUILD)/capri-stack/knot.sarif $(BUILD)/bin/knot
	$(BUILD)/bin/capri-stack --fail-on=recursion --format sarif --output $(BUILD)/capri-stack/calc.sarif $(BUILD)/examples/demo/calc
	@echo "capri-stack: no unbounded recursion in the examples (SARIF in $(BUILD)/capri-stack/)"

# The plugin's compile-time overhead on Lua 5.4 (CPU time and callgrind counts).
bench-compile: build
	python3 bench/plugin-overhead.py $(abspath $(BUILD)) --runs 7 --callgrind lvm.c lparser.c

# The raw context switch against Boost.Context's fcontext, in one run.
bench-switch: build
	./bench/switch/run.sh $(abspath $(BUILD))

# The runtime side by side with pthreads, Boost.Context and Go: yield among
# 100 threads, spawn+join, mutex, channel ping-pong, a million idle threads.
bench-runtime: build
	./bench/runtime/run.sh $(abspath $(BUILD))

# The cost of stack-limit checks on recursive fib, binary trees and Lua 5.4:
# capri-cc against clang, and gcc's -fsplit-stack against gcc, in one run
# (wall time and callgrind instructions; RUNS, CG_RUNS and the inputs are
# environment variables, see bench/growth/run.sh).
bench-growth: build
	./bench/growth/run.sh $(abspath $(BUILD))

# Loop yield points: fib, binary trees, matmul and an array sum built with
# and without them, side by side: callgrind instructions and wall medians.
bench-loops: build
	./bench/loops/run.sh $(abspath $(BUILD))

# The hot split: a call at a chunk boundary in a tight loop (through
# __morestack onto the thread's cached chunk) against the direct call, in
# one run; ns per call and callgrind instruction counts.
bench-hot-split: build
	./bench/growth/run-hot-split.sh $(abspath $(BUILD))

# Capriccio's bigstack test: threads that each call a function with a 1 MiB
# stack buffer and block outside it, at most k inside at once, capri against
# pthreads in one run: calls/s, VmRSS and VmPTE while running, the chunk
# pool's statistics (RUNS, NS, KS, WINDOW: see bench/growth/run-bigstack.sh).
.PHONY: bench-bigstack
bench-bigstack: build
	./bench/growth/run-bigstack.sh $(abspath $(BUILD))

# The start-up bounds pass on a generated program of 50,000 functions: the
# pass's own time per phase and the process's, against CAPRI_BOUNDS=estimates
# (RUNS, OPT, WORK: see bench/bounds/run.sh).
.PHONY: bench-bounds
bench-bounds: build
	./bench/bounds/run.sh $(abspath $(BUILD))

# Resident memory per blocked thread, built with capri-cc: guard and dense
# modes at 100,000 and 1,000,000 threads, dense at 10,000,000, pthreads
# beside them (NS, BIG_N, BIG_STACK, PTHREAD_N: see bench/memory/run.sh).
.PHONY: bench-memory
bench-memory: build
	./bench/memory/run.sh $(abspath $(BUILD))

# Knot against nginx and Go's net/http under wrk (CONNS, FILES, SERVERS,
# DURATION, ROUNDS: see bench/knot/run.sh; needs install-deps.sh --bench).
.PHONY: bench-knot
bench-knot: build
	./scripts/install-deps.sh --bench
	./bench/knot/run.sh $(abspath $(BUILD))

# The whole suite side by side with its peers in one run (pthreads, GNU Pth,
# State Threads, Boost.Context, Go, gcc -fsplit-stack, nginx): installs the
# peers, builds, runs every comparison (about 30 minutes on 2 CPUs; QUICK=1
# for a smoke run of a few minutes), writes BUILD/bench/suite/*.json, the
# plots in docs/bench/ and docs/benchmarks.md's generated section
# (bench/README.md says what runs; BENCH_PARTS picks parts).
.PHONY: bench
bench: build
	./scripts/install-deps.sh --bench
	python3 bench/suite.py $(abspath $(BUILD)) $(if $(BENCH_PARTS),--parts $(BENCH_PARTS))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
