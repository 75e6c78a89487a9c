#!/bin/sh
# Install what capri needs to build and test on Debian 12 (bookworm).
# Idempotent: when every package is already present it only checks and exits.
set -eu

PACKAGES="clang-19 llvm-19-dev llvm-19-tools lld-19 libclang-rt-19-dev
cmake make python3 binutils graphviz zlib1g-dev libzstd-dev libedit-dev
libxml2-dev libcurl4-openssl-dev dpkg-dev libstdc++-12-dev gdb valgrind
python3-psutil pkgconf"

# --bench: also the peers the benchmarks compare against (gcc for
# -fsplit-stack, linked with gold, which Debian 12 ships in binutils; wrk,
# nginx and Go's net/http for Knot; GNU Pth and State Threads for the
# runtime and memory comparisons).
if [ "${1:-}" = "--bench" ]; then
    PACKAGES="$PACKAGES libboost-context-dev gcc wrk nginx-light golang-go libpth-dev libst-dev"
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run this script as root to install them" >&2
        exit 1
    fi
else
    SUDO=
fi

echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
