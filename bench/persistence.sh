#!/usr/bin/env bash
# Persistence benchmark: vigil vs Debian's redis-server, one after the other.
#
# Per server (pinned to SERVER_CPU; redis-benchmark to CLIENT_CPU):
#   1. DEBUG POPULATE $KEYS keys (key:N, 16-byte values), or with
#      DATASET=hashes, $HASHES hashes of $FIELDS fields each (built by
#      EVAL scripts, or with BUILD=pipe by one plain HSET per hash).
#   2. Baseline: redis-benchmark SET/GET over a random key space -> p99.
#   3. The same load (SAVE_REQUESTS requests, sized to last about as long
#      as one save) with one BGSAVE started 0.3 s in -> p99 while saving,
#      BGSAVE wall time, and peak extra memory during the save
#      (sampled every 20 ms from /proc: vigil's VmRSS growth; for redis the
#      parent's VmRSS growth + the fork child's private memory from
#      smaps_rollup, i.e. the copy-on-write cost).
#   4. Foreground SAVE time (median of REPEAT SAVEs).
#      Also its CPU time (user + system of the server process, from
#      /proc: steadier than wall time on a shared machine).
#      Before the baseline, both servers get MEMORY PURGE (GC_RESET=yes,
#      the default): for vigil it runs a Go GC cycle, so a cycle owed to
#      building the dataset doesn't land in one run or the other by
#      chance; vigil runs with GODEBUG=gctrace=1 and the table reports the
#      GC cycles that started during each run (a cycle marks the whole
#      heap: ~0.15 s of CPU for 1M keys, on the server's one CPU).
#   4b. bench/latprobe (CLIENTS connections, a closed loop like
#      redis-benchmark's, every request timed): one run of SET and one of
#      GET, LAT_DURATION each, each after a MEMORY PURGE (the same GC
#      state for every run), a BGSAVE sent 0.5 s in; the p99 of the
#      requests that started before the BGSAVE, while it ran (until
#      rdb_bgsave_in_progress went back to 0) and after it. redis-benchmark
#      reports one p99 for its whole run, which mixes requests before,
#      during and after the save (and its GET run started after vigil's
#      save had ended): the latprobe rows are the ones to read for the
#      p99 target.
#   5. Restart on the saved dump.rdb: time until PING answers PONG (load),
#      median of REPEAT restarts (both answer -LOADING meanwhile), and the
#      RSS once loaded (the dataset without the garbage of building it).
#
# Environment: KEYS (default 1000000), REQUESTS per baseline run (default
# 200000), SAVE_REQUESTS for the run with a save (default 60000), CLIENTS
# (50), REPEAT (3), VIGIL_BIN (default: go build ./cmd/vigil), SERVER_CPU /
# CLIENT_CPU (0 / 1). Each benchmark run is capped at 60 s. Runs in about
# 1-2 minutes.
set -euo pipefail

KEYS=${KEYS:-1000000}
DATASET=${DATASET:-strings} # strings (DEBUG POPULATE KEYS) or hashes
BUILD=${BUILD:-eval}        # hashes built by EVAL scripts, or "pipe": plain HSETs via redis-cli --pipe
HASHES=${HASHES:-100000}
FIELDS=${FIELDS:-100}
REQUESTS=${REQUESTS:-200000}
SAVE_REQUESTS=${SAVE_REQUESTS:-60000}
CLIENTS=${CLIENTS:-50}
REPEAT=${REPEAT:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
GC_RESET=${GC_RESET:-yes}
LAT_DURATION=${LAT_DURATION:-4s}

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
	command -v "$tool" >/dev/null || { echo "persistence.sh: $tool is required" >&2; exit 1; }
done
if [[ -z "${VIGIL_BIN:-}" ]]; then
	VIGIL_BIN=$work/vigil-bin
	(cd "$root" && go build -o "$VIGIL_BIN" ./cmd/vigil)
fi
if [[ -z "${LATPROBE_BIN:-}" ]]; then
	LATPROBE_BIN=$work/latprobe
	(cd "$root" && go build -o "$LATPROBE_BIN" ./bench/latprobe)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
# CPU time (user + system, all threads) of a process so far, ms: on a
# shared machine, less noisy than wall time.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
private_kb() { # private (copy-on-write) memory of a process, kB
	awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s+0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}
gc_count() { grep -cE '^gc [0-9]+ @' "$work/$1/log" 2>/dev/null || true; } # Go GC cycles so far (vigil)
info_field() { redis-cli -p "$1" INFO persistence | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2}'; }

server_pid=
start() { # name port -> sets server_pid
	local name=$1 port=$2
	local bin=(redis-server)
	[[ $name == vigil ]] && bin=(env GODEBUG=gctrace=1 "$VIGIL_BIN" server)
	mkdir -p "$work/$name"
	taskset -c "$SERVER_CPU" "${bin[@]}" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no --dir "$work/$name" --logfile "" --enable-debug-command yes >>"$work/$name/log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
}
wait_pong() { # port -> ms until PONG
	local t0; t0=$(now_ms)
	for _ in $(seq 6000); do
		[[ $(redis-cli -p "$1" PING 2>/dev/null) == PONG ]] && { echo $(( $(now_ms) - t0 )); return; }
		sleep 0.01
	done
	echo "persistence.sh: server on $1 did not answer" >&2; exit 1
}
bench_p99() { # port requests -> "rps_set p99_set rps_get p99_get"
	timeout 60 taskset -c "$CLIENT_CPU" redis-benchmark -p "$1" -t set,get -n "$2" -c "$CLIENTS" -r "$KEYS" -d 16 --csv 2>/dev/null |
		python3 -c '
import csv, sys
rows = {r[0]: r for r in csv.reader(sys.stdin) if r and r[0] in ("SET", "GET")}
print(" ".join(f"{float(rows[t][1]):.0f} {float(rows[t][6]):.3f}" for t in ("SET", "GET")))'
}

declare -A R
run() {
	local name=$1 port; port=$(free_port)
	start "$name" "$port"
	wait_pong "$port" >/dev/null
	if [ "$DATASET" = hashes ] && [ "$BUILD" = pipe ]; then
		# The same hashes, one plain HSET of all fields per hash, through
		# redis-cli --pipe (no script: RSS then shows no scripting garbage).
		[[ -e $work/hset.txt ]] || python3 -c '
import sys
n, m = int(sys.argv[1]), int(sys.argv[2])
vals = " ".join(f"f{f} v{f:07d}" for f in range(1, m + 1))
with open(sys.argv[3], "w") as out:
    for i in range(1, n + 1):
        out.write(f"HSET h:{i} {vals}\n")' "$HASHES" "$FIELDS" "$work/hset.txt"
		redis-cli -p "$port" --pipe <"$work/hset.txt" >/dev/null
	elif [ "$DATASET" = hashes ]; then
		# HASHES hashes h:N of FIELDS fields (f1..fN, 8-byte values), built
		# by a script in chunks of 10k keys.
		local i=1
		while [ "$i" -le "$HASHES" ]; do
			redis-cli -p "$port" EVAL "local n=0 for i=tonumber(ARGV[1]),tonumber(ARGV[2]) do local a={} for f=1,tonumber(ARGV[3]) do a[#a+1]='f'..f a[#a+1]='v'..string.format('%07d',f) end redis.call('HSET','h:'..i,unpack(a)) n=n+1 end return n" 0 "$i" "$((i + 9999 < HASHES ? i + 9999 : HASHES))" "$FIELDS" >/dev/null
			i=$((i + 10000))
		done
	else
		redis-cli -p "$port" DEBUG POPULATE "$KEYS" >/dev/null
	fi
	[[ $GC_RESET == yes ]] && redis-cli -p "$port" MEMORY PURGE >/dev/null
	# Warm-up + baseline (also creates the benchmark's own keys, so the
	# loaded run overwrites existing keys: the copy-on-write case).
	local gc0; gc0=$(gc_count "$name")
	R[$name.base]=$(bench_p99 "$port" "$REQUESTS")
	R[$name.gc_base]=$(( $(gc_count "$name") - gc0 ))

	local base_rss; base_rss=$(rss_kb "$server_pid")
	local peak=0 first_ms=0 saves=0 stop=$work/$name.stop
	rm -f "$stop"
	( # one BGSAVE while the benchmark runs
		sleep 0.3
		for _ in 1; do
			t0=$(now_ms)
			redis-cli -p "$port" BGSAVE >/dev/null
			while [[ $(info_field "$port" rdb_bgsave_in_progress) == 1 ]]; do sleep 0.02; done
			echo $(( $(now_ms) - t0 )) >>"$work/$name.savetimes"
		done
	) &
	local saver=$!
	( # memory sampler
		while [[ ! -e $stop ]]; do
			extra=$(( $(rss_kb "$server_pid") - base_rss ))
			if [[ $name == redis ]]; then
				for c in $(pgrep -P "$server_pid" 2>/dev/null); do
					extra=$(( extra + $(private_kb "$c") ))
				done
			fi
			echo "$extra"
			sleep 0.02
		done
	) >"$work/$name.mem" &
	local sampler=$!
	gc0=$(gc_count "$name")
	R[$name.load]=$(bench_p99 "$port" "$SAVE_REQUESTS")
	wait "$saver" 2>/dev/null || true
	R[$name.gc_load]=$(( $(gc_count "$name") - gc0 ))
	touch "$stop"
	wait "$sampler" 2>/dev/null || true
	peak=$(sort -n "$work/$name.mem" | tail -1)
	first_ms=$(head -1 "$work/$name.savetimes")
	saves=$(wc -l <"$work/$name.savetimes")
	R[$name.bgsave_ms]=$first_ms
	R[$name.bgsaves]=$saves
	R[$name.peak_mb]=$(( peak / 1024 ))
	R[$name.base_mb]=$(( base_rss / 1024 ))
	R[$name.keys]=$(redis-cli -p "$port" DBSIZE)

	# Client latency around a BGSAVE, timed per request (latprobe).
	local op
	for op in set get; do
		# Each run starts from the same GC state: after a forced cycle
		# (MEMORY PURGE). Otherwise a cycle owed to the previous steps'
		# garbage (vigil postpones collections past a save, see
		# docs/persistence.md) lands in one window or another by chance.
		redis-cli -p "$port" MEMORY PURGE >/dev/null
		# -> "job_ms p99_before p99_during p99_after"
		R[$name.lp_$op]=$(taskset -c "$CLIENT_CPU" "$LATPROBE_BIN" -addr "127.0.0.1:$port" -clients "$CLIENTS" -cmd "$op" -keys "$KEYS" \
			-duration "$LAT_DURATION" -trigger-at 0.5s -brief)
		while [[ $(info_field "$port" rdb_bgsave_in_progress) == 1 ]]; do sleep 0.05; done
	done
	R[$name.keys]=$(redis-cli -p "$port" DBSIZE)

	local t0 c0 times=() cpus=()
	for _ in $(seq "$REPEAT"); do
		t0=$(now_ms)
		c0=$(cpu_ms "$server_pid")
		redis-cli -p "$port" SAVE >/dev/null
		times+=($(( $(now_ms) - t0 )))
		cpus+=($(( $(cpu_ms "$server_pid") - c0 )))
	done
	R[$name.save_ms]=$(median "${times[@]}")
	R[$name.save_all]=${times[*]}
	R[$name.save_cpu]=$(median "${cpus[@]}")
	R[$name.rdb_mb]=$(( $(stat -c %s "$work/$name/dump.rdb") / 1048576 ))
	redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	wait "$server_pid" 2>/dev/null || true

	times=() cpus=()
	for _ in $(seq "$REPEAT"); do
		start "$name" "$port"
		times+=($(wait_pong "$port"))
		cpus+=($(cpu_ms "$server_pid"))
		[[ $(redis-cli -p "$port" DBSIZE) == "${R[$name.keys]}" ]] || echo "persistence.sh: $name loaded $(redis-cli -p "$port" DBSIZE) keys, want ${R[$name.keys]}" >&2
		R[$name.loaded_mb]=$(( $(rss_kb "$server_pid") / 1024 ))
		redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
		wait "$server_pid" 2>/dev/null || true
	done
	R[$name.load_ms]=$(median "${times[@]}")
	R[$name.load_all]=${times[*]}
	R[$name.load_cpu]=$(median "${cpus[@]}")
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

if [ "$DATASET" = hashes ]; then
	echo "populating $HASHES hashes of $FIELDS fields, $REQUESTS requests per benchmark run, $CLIENTS clients" >&2
else
	echo "populating $KEYS keys, $REQUESTS requests per benchmark run, $CLIENTS clients" >&2
fi
run redis
run vigil

ratio() { python3 -c "print(f'{$2/$1:.2f}' if $1 else 'n/a')"; }
set -- ${R[redis.base]}; rb=("$@"); set -- ${R[redis.load]}; rl=("$@")
set -- ${R[vigil.base]}; vb=("$@"); set -- ${R[vigil.load]}; vl=("$@")
set -- ${R[redis.lp_set]}; rps=("$@"); set -- ${R[redis.lp_get]}; rpg=("$@")
set -- ${R[vigil.lp_set]}; vps=("$@"); set -- ${R[vigil.lp_get]}; vpg=("$@")
cat <<EOF
| metric | redis | vigil | vigil/redis |
|---|---:|---:|---:|
| keys at save time | ${R[redis.keys]} | ${R[vigil.keys]} | |
| RSS before saving (MB) | ${R[redis.base_mb]} | ${R[vigil.base_mb]} | $(ratio "${R[redis.base_mb]}" "${R[vigil.base_mb]}") |
| RSS after loading dump.rdb at start-up (MB) | ${R[redis.loaded_mb]} | ${R[vigil.loaded_mb]} | $(ratio "${R[redis.loaded_mb]}" "${R[vigil.loaded_mb]}") |
| BGSAVE time under load (ms) | ${R[redis.bgsave_ms]} | ${R[vigil.bgsave_ms]} | $(ratio "${R[redis.bgsave_ms]}" "${R[vigil.bgsave_ms]}") |
| peak extra memory during BGSAVE (MB) | ${R[redis.peak_mb]} | ${R[vigil.peak_mb]} | $(ratio "${R[redis.peak_mb]}" "${R[vigil.peak_mb]}") |
| latprobe SET p99 ms before / during / after a BGSAVE | ${rps[1]} / ${rps[2]} / ${rps[3]} | ${vps[1]} / ${vps[2]} / ${vps[3]} | |
| latprobe SET p99 during / before | $(ratio "${rps[1]}" "${rps[2]}") | $(ratio "${vps[1]}" "${vps[2]}") | |
| latprobe GET p99 ms before / during / after a BGSAVE | ${rpg[1]} / ${rpg[2]} / ${rpg[3]} | ${vpg[1]} / ${vpg[2]} / ${vpg[3]} | |
| latprobe GET p99 during / before | $(ratio "${rpg[1]}" "${rpg[2]}") | $(ratio "${vpg[1]}" "${vpg[2]}") | |
| latprobe BGSAVE time under load, SET / GET (ms) | ${rps[0]} / ${rpg[0]} | ${vps[0]} / ${vpg[0]} | |
| SET p99 ms, no save | ${rb[1]} | ${vb[1]} | $(ratio "${rb[1]}" "${vb[1]}") |
| SET p99 ms, BGSAVE running (redis-benchmark, whole run) | ${rl[1]} | ${vl[1]} | $(ratio "${rl[1]}" "${vl[1]}") |
| GET p99 ms, no save | ${rb[3]} | ${vb[3]} | $(ratio "${rb[3]}" "${vb[3]}") |
| GET p99 ms, BGSAVE running (redis-benchmark, whole run, mostly after the save) | ${rl[3]} | ${vl[3]} | $(ratio "${rl[3]}" "${vl[3]}") |
| vigil GC cycles during the run, no save / saving | | ${R[vigil.gc_base]} / ${R[vigil.gc_load]} | |
| SET rps, no save / saving | ${rb[0]} / ${rl[0]} | ${vb[0]} / ${vl[0]} | |
| GET rps, no save / saving | ${rb[2]} / ${rl[2]} | ${vb[2]} / ${vl[2]} | |
| SAVE time (ms) | ${R[redis.save_ms]} | ${R[vigil.save_ms]} | $(ratio "${R[redis.save_ms]}" "${R[vigil.save_ms]}") |
| SAVE CPU time (ms) | ${R[redis.save_cpu]} | ${R[vigil.save_cpu]} | $(ratio "${R[redis.save_cpu]}" "${R[vigil.save_cpu]}") |
| dump.rdb size (MB) | ${R[redis.rdb_mb]} | ${R[vigil.rdb_mb]} | |
| startup load until PONG (ms) | ${R[redis.load_ms]} | ${R[vigil.load_ms]} | $(ratio "${R[redis.load_ms]}" "${R[vigil.load_ms]}") |
| process CPU time until PONG (ms) | ${R[redis.load_cpu]} | ${R[vigil.load_cpu]} | $(ratio "${R[redis.load_cpu]}" "${R[vigil.load_cpu]}") |
EOF
echo "SAVE runs (ms): redis ${R[redis.save_all]}; vigil ${R[vigil.save_all]}. Load runs (ms): redis ${R[redis.load_all]}; vigil ${R[vigil.load_all]}." >&2
