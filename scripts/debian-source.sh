#!/bin/sh
# debian-source.sh PACKAGE DESTDIR
# Fetch and unpack a Debian source package into DESTDIR/<package>-<version>,
# using a private apt configuration (a deb-src line of its own) so the
# system's apt sources are never edited. Prints the unpacked directory.
set -eu
pkg=$1
dest=$(mkdir -p "$2" && cd "$2" && pwd)
apt_dir="$dest/.apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"

if [ ! -f "$apt_dir/sources.list" ]; then
    # Same mirror and suite the system uses, as a deb-src line.
    uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
    [ -n "$uri" ] || uri=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    echo "deb-src [trusted=yes] $uri $suite main" > "$apt_dir/sources.list"
fi

APT_OPTS="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null \
 -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache::Archives=$apt_dir/archives \
 -o Debug::NoLocking=1 -o APT::Sandbox::User=root"

existing=$(find "$dest" -maxdepth 1 -type d -name "$pkg-*" | head -n1)
if [ -n "$existing" ]; then
    echo "$existing"
    exit 0
fi
# shellcheck disable=SC2086
apt-get $APT_OPTS -qq update >&2
cd "$dest"
# shellcheck disable=SC2086
apt-get $APT_OPTS -qq source "$pkg" >&2
find "$dest" -maxdepth 1 -type d -name "$pkg-*" | head -n1
