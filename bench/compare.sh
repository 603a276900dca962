#!/usr/bin/env bash
# Side-by-side redis-benchmark of vigil and Debian's redis-server.
#
# Both servers run at the same time, each pinned to CPU 0 (taskset), the
# benchmark client to CPU 1. Rounds are interleaved (redis, vigil, vigil,
# redis, ...) so drift on a shared machine hits both; the table shows the
# median over rounds of requests/s and of p99 latency.
#
# Environment:
#   TESTS     redis-benchmark tests (default "set,get")
#   PIPELINES pipeline depths (default "1 16")
#   CLIENTS   parallel connections (default 50)
#   REQUESTS  requests per run (default 100000)
#   ROUNDS    interleaved rounds (default 3)
#   VIGIL_BIN vigil binary (default: go build ./cmd/vigil)
#   SERVER_CPU / CLIENT_CPU  CPUs to pin to (default 0 / 1)
set -euo pipefail

TESTS=${TESTS:-set,get}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-100000}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli taskset python3; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 1; }
done

if [[ -z "${VIGIL_BIN:-}" ]]; then
	VIGIL_BIN=$work/vigil-bin
	(cd "$root" && go build -o "$VIGIL_BIN" ./cmd/vigil)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name port bin args...  (runs in this shell so the PID is kept)
	local name=$1 port=$2; shift 2
	mkdir -p "$work/$name"
	taskset -c "$SERVER_CPU" "$@" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no --dir "$work/$name" --logfile "" >"$work/$name/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		redis-cli -p "$port" PING >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "compare.sh: $name did not start:" >&2; cat "$work/$name/log" >&2; exit 1
}

redis_port=$(free_port)
start redis "$redis_port" redis-server
vigil_port=$(free_port)
start vigil "$vigil_port" "$VIGIL_BIN" server

results=$work/results.csv
: >"$results"
# "eval" in TESTS adds a scripted write: EVAL of a SET through redis.call.
std_tests=$(echo ",$TESTS," | sed 's/,eval,/,/g; s/^,//; s/,$//')
run() { # server port pipeline round
	if [[ -n $std_tests ]]; then
		taskset -c "$CLIENT_CPU" redis-benchmark -p "$2" -c "$CLIENTS" -P "$3" -n "$REQUESTS" -r 100000 \
			-t "$std_tests" --csv 2>/dev/null | tail -n +2 | sed "s/^/$1,$3,$4,/" >>"$results"
	fi
	if [[ ",$TESTS," == *,eval,* ]]; then
		taskset -c "$CLIENT_CPU" redis-benchmark -p "$2" -c "$CLIENTS" -P "$3" -n "$REQUESTS" -r 100000 --csv \
			EVAL "return redis.call('SET', KEYS[1], ARGV[1])" 1 "key:__rand_int__" val 2>/dev/null |
			tail -n +2 | sed 's/^"[^"]*"/"EVAL"/' | sed "s/^/$1,$3,$4,/" >>"$results"
	fi
}

echo "vigil vs redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'): tests=$TESTS clients=$CLIENTS requests=$REQUESTS rounds=$ROUNDS" >&2
for r in $(seq "$ROUNDS"); do
	for p in $PIPELINES; do
		if (( r % 2 )); then order="redis vigil"; else order="vigil redis"; fi
		for s in $order; do
			port=$redis_port; [[ $s == vigil ]] && port=$vigil_port
			run "$s" "$port" "$p" "$r"
		done
	done
	echo "round $r/$ROUNDS done" >&2
done

python3 - "$results" <<'PY'
import csv, statistics, sys
rows = {}
for rec in csv.reader(open(sys.argv[1])):
    server, pipe, _round, test, rps = rec[0], int(rec[1]), rec[2], rec[3], float(rec[4])
    p99 = float(rec[9])  # test,rps,avg,min,p50,p95,p99,max
    rows.setdefault((test, pipe), {}).setdefault(server, []).append((rps, p99))
print("| test | pipeline | redis rps | vigil rps | vigil/redis | redis p99 ms | vigil p99 ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (test, pipe) in sorted(rows, key=lambda k: (k[1], k[0])):
    d = rows[(test, pipe)]
    med = lambda s, i: statistics.median(x[i] for x in d.get(s, [(0, 0)]))
    rr, vr = med("redis", 0), med("vigil", 0)
    print(f"| {test} | {pipe} | {rr:,.0f} | {vr:,.0f} | {vr / rr if rr else 0:.2f} | {med('redis', 1):.3f} | {med('vigil', 1):.3f} |")
PY
