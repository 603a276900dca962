#!/usr/bin/env bash
# Full sync under load, vigil vs redis-server side by side.
#
# For each server kind: a master filled with DEBUG POPULATE (KEYS keys,
# default 2M), serving redis-benchmark (SET/GET, random keys) in a loop of
# short runs; REPLICAS replicas of the same kind are started and pointed at
# it together, and the time until every master_link_status is up is the
# sync time. Reported: sync time, and the
# master's p99 (ms) from redis-benchmark before the sync (baseline) and
# during it (median and max over the runs that overlapped the sync).
#
# Environment:
#   KEYS       keys in the dataset (default 2000000)
#   VALUE      value size (default 16)
#   CLIENTS    benchmark connections (default 20)
#   CHUNK      requests per benchmark run (default 20000)
#   DISKLESS   repl-diskless-sync on the master (default yes)
#   DELAY      repl-diskless-sync-delay on the master (default 0)
#   REPLICAS   replicas started together (default 1); the sync time is until
#              all are up, and the master's log tells how many snapshots
#              it took ("snapshots" column)
#   KINDS      "redis vigil" (default)
#   REPLICA_NICE  run the replicas under nice -n N (default 0). Master,
#              replicas and redis-benchmark share this machine's CPUs; a
#              replica loading 2M keys takes a whole CPU, which on 2 vCPUs
#              is the benchmark's or the master's. REPLICA_NICE=19 models a
#              replica on another host (it gets the CPU time the master
#              and the benchmark leave), for both kinds alike.
#   GC_RESET   MEMORY PURGE on the master after populating (default yes):
#              for vigil it runs a Go GC cycle, so a cycle owed to
#              building the dataset doesn't fall in the baseline or the
#              sync by chance. vigil masters run with GODEBUG=gctrace=1;
#              the "GC" column counts the cycles that started during the
#              sync.
#   BASE_RUNS  benchmark runs for the baseline p99 (default 3, median)
#   VIGIL_BIN  vigil binary (default: go build ./cmd/vigil)
#   LATPROBE   yes (default): after the runs above, a second full sync of
#              one fresh replica while bench/latprobe (CLIENTS connections,
#              SET, every request timed) loads the master for LAT_DURATION
#              (default 8s), the REPLICAOF sent 1 s in: the master's p99
#              for requests that started before the sync, during it (until
#              the replica's master_link_status is up) and after it. The
#              redis-benchmark chunks above overlap the sync only in part,
#              so their p99 mixes requests outside it. Before it, the same
#              load for LAT_IDLE (default 4s) without a sync gives the idle
#              p99 (the first replica attached in both). The master gets a
#              MEMORY PURGE before each (the same GC state for every run).
set -euo pipefail

KEYS=${KEYS:-2000000}
VALUE=${VALUE:-16}
CLIENTS=${CLIENTS:-20}
CHUNK=${CHUNK:-20000}
DISKLESS=${DISKLESS:-yes}
DELAY=${DELAY:-0}
REPLICAS=${REPLICAS:-1}
KINDS=${KINDS:-redis vigil}
REPLICA_NICE=${REPLICA_NICE:-0}
GC_RESET=${GC_RESET:-yes}
BASE_RUNS=${BASE_RUNS:-3}
LATPROBE=${LATPROBE:-yes}
LAT_DURATION=${LAT_DURATION:-8s}
LAT_IDLE=${LAT_IDLE:-4s}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli python3; do
	command -v "$tool" >/dev/null || { echo "replication.sh: $tool is required" >&2; exit 1; }
done
if [ -z "${VIGIL_BIN:-}" ]; then
	VIGIL_BIN=$work/vigil
	(cd "$root" && go build -o "$VIGIL_BIN" ./cmd/vigil)
fi
if [ "$LATPROBE" = yes ] && [ -z "${LATPROBE_BIN:-}" ]; then
	LATPROBE_BIN=$work/latprobe
	(cd "$root" && go build -o "$LATPROBE_BIN" ./bench/latprobe)
fi

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # kind port dir extra...   (NICE=n in the environment: run under nice)
	local kind=$1 port=$2 dir=$3; shift 3
	mkdir -p "$dir"
	local bin=(redis-server)
	[ "$kind" = vigil ] && bin=(env GODEBUG=gctrace=1 "$VIGIL_BIN" server)
	nice -n "${NICE:-0}" "${bin[@]}" --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no --logfile "$dir/log" \
		--save "" --appendonly no --enable-debug-command yes --repl-diskless-sync "$DISKLESS" \
		--repl-diskless-sync-delay "$DELAY" "$@" >"$dir/stderr" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 200); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "server $kind on $port did not start" >&2; cat "$dir/log" >&2; exit 1
}

p99() { # port -> p99 ms of one benchmark chunk
	redis-benchmark -p "$1" -t set,get -n "$CHUNK" -c "$CLIENTS" -r "$KEYS" -d "$VALUE" --csv 2>/dev/null |
		python3 -c 'import csv,sys
rows=[r for r in csv.reader(sys.stdin)]
h=rows[0]; i=h.index("p99_latency_ms")
print(max(float(r[i]) for r in rows[1:]))'
}

bench_loop() { # port file: benchmark chunks back to back, "start end p99" per line
	while :; do
		local a b v
		a=$(date +%s.%N)
		v=$(p99 "$1")
		b=$(date +%s.%N)
		echo "$a $b $v" >>"$2"
	done
}

results=()
lpres=()
for kind in $KINDS; do
	mp=$(freeport)
	start "$kind" "$mp" "$work/$kind-m"
	t0=$(date +%s.%N)
	redis-cli -p "$mp" debug populate "$KEYS" key "$VALUE" >/dev/null
	fill=$(python3 -c "import time; print(f'{time.time()-$t0:.1f}')")
	[ "$GC_RESET" = yes ] && redis-cli -p "$mp" memory purge >/dev/null
	bs=()
	for _ in $(seq 1 "$BASE_RUNS"); do bs+=("$(p99 "$mp")"); done
	base=$(printf '%s\n' "${bs[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	rps=()
	for i in $(seq 1 "$REPLICAS"); do
		rp=$(freeport)
		NICE=$REPLICA_NICE start "$kind" "$rp" "$work/$kind-r$i"
		rps+=("$rp")
	done
	gc0=$(grep -cE '^gc [0-9]+ @' "$work/$kind-m/stderr" || true)
	log=$work/$kind-chunks
	: >"$log"
	bench_loop "$mp" "$log" 2>/dev/null &
	bl=$!
	ts=$(date +%s.%N)
	for rp in "${rps[@]}"; do
		redis-cli -p "$rp" replicaof 127.0.0.1 "$mp" >/dev/null
	done
	for rp in "${rps[@]}"; do
		until [ "$(redis-cli -p "$rp" info replication | tr -d '\r' | sed -n 's/^master_link_status://p')" = up ]; do
			sleep 0.02
		done
	done
	te=$(date +%s.%N)
	gcs=$(( $(grep -cE '^gc [0-9]+ @' "$work/$kind-m/stderr" || true) - gc0 ))
	[ "$kind" = vigil ] || gcs=-
	snaps=$(grep -c "Starting BGSAVE for SYNC" "$work/$kind-m/log" || true)
	# Let the chunk running at link-up finish, then stop the loop.
	n=$(wc -l <"$log")
	until [ "$(wc -l <"$log")" -gt "$n" ]; do sleep 0.05; done
	kill "$bl" 2>/dev/null || true
	wait "$bl" 2>/dev/null || true
	stats=$(python3 - "$log" "$ts" "$te" <<'PY'
import sys, statistics
ts, te = float(sys.argv[2]), float(sys.argv[3])
v = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3 and float(f[1]) > ts and float(f[0]) < te:
        v.append(float(f[2]))
print(f"{te-ts:.2f} {statistics.median(v):.2f} {max(v):.2f} {len(v)}" if v else f"{te-ts:.2f} - - 0")
PY
)
	# Consistency: same key count once the replicas caught up.
	same=yes
	for rp in "${rps[@]}"; do
		for _ in $(seq 1 100); do
			[ "$(redis-cli -p "$rp" dbsize)" = "$(redis-cli -p "$mp" dbsize)" ] && break
			sleep 0.1
		done
		[ "$(redis-cli -p "$rp" dbsize)" = "$(redis-cli -p "$mp" dbsize)" ] || same=no
	done
	results+=("$kind $KEYS $fill $stats $base $same $snaps $gcs")
	if [ "$LATPROBE" = yes ]; then
		lp=$(freeport)
		NICE=$REPLICA_NICE start "$kind" "$lp" "$work/$kind-lp"
		# The same GC state for every run: vigil postpones a collection
		# past a snapshot (docs/persistence.md), so the one the first sync
		# owes would otherwise land in this run's "before" window.
		redis-cli -p "$mp" memory purge >/dev/null
		# The idle p99: the same load for LAT_IDLE, no sync (the first
		# replica stays attached, as during the sync below).
		idle=$("$LATPROBE_BIN" -addr "127.0.0.1:$mp" -clients "$CLIENTS" -cmd set -keys "$KEYS" -d "$VALUE" \
			-duration "$LAT_IDLE" -trigger "" | sed -n 's/^all: .*p99_ms=\([0-9.]*\).*/\1/p')
		redis-cli -p "$mp" memory purge >/dev/null
		# latprobe -brief: "job_ms p99_before p99_during p99_after"
		lpres+=("$kind $idle $("$LATPROBE_BIN" -addr "127.0.0.1:$mp" -clients "$CLIENTS" -cmd set -keys "$KEYS" -d "$VALUE" \
			-duration "$LAT_DURATION" -trigger-at 1s -trigger-addr "127.0.0.1:$lp" -trigger "REPLICAOF 127.0.0.1 $mp" \
			-watch "127.0.0.1:$lp" -busy-field master_link_status -busy-value '!up' -brief |
			awk -v idle="$idle" '{printf "%.2f %s %s %s %s %s", $1 / 1000, $2, $3, $4, ($2 > 0 ? sprintf("%.2f", $3 / $2) : "-"), (idle > 0 ? sprintf("%.2f", $3 / idle) : "-")}')")
		kill "${pids[-1]}" 2>/dev/null || true
		wait "${pids[-1]}" 2>/dev/null || true
		unset 'pids[-1]'
	fi
	for _ in $(seq 0 "$REPLICAS"); do
		kill "${pids[-1]}" 2>/dev/null || true
		wait "${pids[-1]}" 2>/dev/null || true
		unset 'pids[-1]'
	done
done

echo "replicas at nice $REPLICA_NICE; baseline: median of $BASE_RUNS runs; GC_RESET=$GC_RESET" >&2
echo "| server | keys | populate s | sync s (REPLICAOF → link up) | p99 ms during sync (median) | p99 ms during sync (max) | benchmark runs during sync | p99 ms before | dbsize equal | snapshots | master GC cycles during sync |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
for r in "${results[@]}"; do
	set -- $r
	echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $9 | ${10} | ${11} |"
done
if [ "$LATPROBE" = yes ]; then
	echo
	echo "latprobe, $CLIENTS clients (SET) on the master, one fresh replica's full sync:"
	echo
	echo "| server | p99 ms idle ($LAT_IDLE, no sync) | sync s | p99 ms before | p99 ms during sync | p99 ms after | during / before | during / idle |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${lpres[@]}"; do
		set -- $r
		echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |"
	done
fi
