#!/bin/sh
# Knot against nginx and Go's net/http, side by side in one run: each server
# pinned to CPU 0, wrk pinned to CPU 1, the same two files (1 KiB and
# 100 KiB) served with an open and a stat per request and no caching of
# contents. Knot runs one scheduler, nginx one worker (access log off,
# open_file_cache off: its default), Go GOMAXPROCS=1.
#
#   bench/knot/run.sh BUILD_DIR
#
# Environment: CONNS (default "100 1000 10000 18000"), FILES (default
# "file1k.bin file100k.bin"), SERVERS (default "knot nginx go"; also
# knot-norec, Knot without the blocking graph recorded, and knot-resource,
# Knot under CAPRI_SCHEDULER=resource), DURATION
# (seconds per run, default 10), ROUNDS (default 1: runs of each
# configuration, interleaved; the table gives medians). Connections above
# 9,000 are spread over several wrk processes, each to its own 127.0.0.x
# address (a client address pair has 28,000 ephemeral ports, and a process
# at most 20,000 descriptors here).
#
# Reported per server and load: requests per second, latency percentiles
# (the wrk process with the most connections), and the server's CPU time
# (user + system, from /proc) per request served.
set -eu
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
conns=${CONNS:-"100 1000 10000 18000"}
files=${FILES:-"file1k.bin file100k.bin"}
servers=${SERVERS:-"knot nginx go"}
duration=${DURATION:-10}
rounds=${ROUNDS:-1}
work=${WORK:-/tmp/capri-bench-knot}

for tool in wrk nginx go taskset; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "run.sh: $tool is missing: scripts/install-deps.sh --bench installs it" >&2
        exit 1
    }
done
ulimit -n "$(ulimit -Hn)"

mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/urandom > "$work/www/file1k.bin"
head -c 102400 /dev/urandom > "$work/www/file100k.bin"
(cd "$here" && GOCACHE="$work/gocache" GOFLAGS=-mod=mod go build -o "$work/goserver" goserver.go)

KNOT_PORT=18080
NGINX_PORT=18081
GO_PORT=18082
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen $NGINX_PORT backlog=4096;
        root $work/www;
    }
}
EOF

start_server() { # name -> sets server_pid, port
    case $1 in
    knot|knot-norec|knot-resource)
        # Variants: the blocking graph not recorded; the resource policy.
        case $1 in
        knot-norec) knot_env=CAPRI_BLOCKING_GRAPH_RECORD=0 ;;
        knot-resource) knot_env=CAPRI_SCHEDULER=resource ;;
        *) knot_env=CAPRI_SCHEDULER=fifo ;;
        esac
        env "$knot_env" taskset -c 0 "$build/bin/knot" --root "$work/www" --port $KNOT_PORT --bind 0.0.0.0 \
            --schedulers 1 > "$work/knot.log" 2>&1 &
        server_pid=$!
        port=$KNOT_PORT ;;
    nginx)
        taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" > "$work/nginx.log" 2>&1 &
        server_pid=$!
        port=$NGINX_PORT ;;
    go)
        GOMAXPROCS=1 taskset -c 0 "$work/goserver" -root "$work/www" -port $GO_PORT \
            > "$work/go.log" 2>&1 &
        server_pid=$!
        port=$GO_PORT ;;
    esac
    for _ in $(seq 50); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
            2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "run.sh: $1 did not start" >&2
    return 1
}

# CPU time (ticks) of a process and its children (nginx's worker).
cpu_ticks() {
    total=0
    for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
        if [ -r /proc/$p/stat ]; then
            t=$(awk '{print $14 + $15}' /proc/$p/stat)
            total=$((total + t))
        fi
    done
    echo $total
}

results="$work/results.tsv"
: > "$results"
for round in $(seq "$rounds"); do
    for file in $files; do
        for c in $conns; do
            for s in $servers; do
                start_server "$s"
                # Warm-up: the file in the page cache, the server's first chunks.
                taskset -c 1 wrk -t1 -c10 -d1s "http://127.0.0.1:$port/$file" > /dev/null 2>&1 || true
                procs=$(( (c + 8999) / 9000 ))
                per=$(( c / procs ))
                t0=$(cpu_ticks $server_pid)
                i=1
                pids=""
                while [ $i -le $procs ]; do
                    taskset -c 1 wrk -t1 -c$per -d${duration}s --timeout 10s --latency \
                        "http://127.0.0.$i:$port/$file" > "$work/wrk.$i.out" 2>&1 &
                    pids="$pids $!"
                    i=$((i + 1))
                done
                for p in $pids; do wait "$p" || true; done
                t1=$(cpu_ticks $server_pid)
                kill "$server_pid" 2>/dev/null || true
                wait "$server_pid" 2>/dev/null || true
                python3 - "$work" "$procs" "$s" "$file" "$c" "$((t1 - t0))" "$round" >> "$results" <<'PY'
import re, sys, os
work, procs, server, file, conns, ticks, rnd = sys.argv[1:]
hz = os.sysconf("SC_CLK_TCK")
total_req, rps, lat = 0, 0.0, {}
errors = 0
for i in range(1, int(procs) + 1):
    text = open(f"{work}/wrk.{i}.out").read()
    m = re.search(r"(\d+) requests in", text)
    total_req += int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    rps += float(m.group(1)) if m else 0
    for e in re.findall(r"(?:connect|read|write|timeout) (\d+)", text):
        errors += int(e)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(m.group(1)) if m else 0
    if i == 1:
        for p in ("50", "90", "99"):
            m = re.search(rf"\s{p}%\s+([\d.]+\w+)", text)
            lat[p] = m.group(1) if m else "?"
cpu_us = int(ticks) / hz * 1e6 / total_req if total_req else float("nan")
print("\t".join(map(str, [rnd, server, file, conns, f"{rps:.0f}", lat.get("50"), lat.get("90"),
                          lat.get("99"), f"{cpu_us:.2f}", errors, total_req])))
PY
                tail -1 "$results"
            done
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r[2], int(r[3]), r[1]), []).append(r)
print()
print("| file | connections | server | requests/s | p50 | p90 | p99 | server CPU us/request | errors |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for (f, c, s) in sorted(groups, key=lambda k: (k[0], k[1], ["knot", "knot-norec", "knot-resource", "nginx", "go"].index(k[2]))):
    g = groups[(f, c, s)]
    rps = statistics.median(float(x[4]) for x in g)
    cpu = statistics.median(float(x[8]) for x in g)
    mid = sorted(g, key=lambda x: float(x[4]))[len(g) // 2]
    print(f"| {f} | {c:,} | {s} | {rps:,.0f} | {mid[5]} | {mid[6]} | {mid[7]} | {cpu:.2f} | {sum(int(x[9]) for x in g)} |")
PY
