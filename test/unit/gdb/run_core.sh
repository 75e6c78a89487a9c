#!/bin/bash
# tools/gdb/capri.py on a core file: gcore a stopped gdb_capri_test, then
# list its threads and unwind a blocked one from the core.
#   run_core.sh GDB CAPRI_PY PROGRAM CORE
#
# A core of a capri process is large unless the runtime's reservations are
# left out: the chunk arena (256 GiB reserved PROT_NONE) and the slot table
# are anonymous mappings gcore would write out in full. The first gdb marks
# their unused parts MADV_DONTDUMP (dontdump.py; gcore honours it), mprotect guards
# stand in for MADV_GUARD_INSTALL ones (gcore stops copying a mapping at
# the first page it cannot read), and one malloc arena avoids 64 MiB
# reservations per kernel thread. ulimit -f caps the file anyway.
set -u
gdb=$1 py=$2 prog=$3 core=$4
rm -f "$core"
ulimit -f 524288 # KiB: 512 MiB at most (the core is about 6 MiB)
here=$(dirname "$0")
MALLOC_ARENA_MAX=1 CAPRI_GUARD_FORCE=mprotect "$gdb" -batch -nx -x "$py" \
  -ex 'break stop_here' -ex run -ex "source $here/dontdump.py" \
  -ex "gcore $core" "$prog" </dev/null 2>&1 | grep -v '^\[New Thread'
if [ ! -s "$core" ]; then
  echo "run_core.sh: no core file written"
  rm -f "$core"
  exit 1
fi
echo "=== the core file ==="
"$gdb" -batch -nx -x "$py" \
  -ex 'capri threads' -ex 'capri bt sleeper-a' -ex 'capri bt spinner' -ex bt \
  "$prog" "$core" </dev/null 2>&1
status=$?
rm -f "$core"
exit $status
