#!/usr/bin/env bash
# Memory per key, vigil vs redis-server side by side: process RSS after
# loading (1) 1M small strings (DEBUG POPULATE 1000000: key:N -> value:N) and
# (2) 100k hashes of 10 fields (HSET h:N f0 v0 ... f9 v9, via redis-cli --pipe).
# Prints RSS for both and the vigil/redis ratio. Target: <= 1.5x.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL_BIN="${VIGIL_BIN:-}"
if [ -z "$VIGIL_BIN" ]; then
  VIGIL_BIN="$(mktemp -d)/vigil"
  go build -o "$VIGIL_BIN" ./cmd/vigil
fi
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start() { # name bin port
  mkdir -p "$tmp/$1"
  if [ "$1" = vigil ]; then
    "$2" server --port "$3" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/$1" --enable-debug-command yes --logfile "$tmp/$1/log" &
  else
    "$2" --port "$3" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/$1" --enable-debug-command yes --logfile "$tmp/$1/log" &
  fi
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$3" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$1 did not start" >&2; exit 1
}

hash_cmds() {
  awk 'BEGIN { for (i = 0; i < 100000; i++) { printf "*22\r\n$4\r\nHSET\r\n$%d\r\nh:%d\r\n", length("h:" i), i; for (f = 0; f < 10; f++) printf "$2\r\nf%d\r\n$6\r\nv%05d\r\n", f, f*7 % 100000 } }'
}

measure() { # label loader
  vp=$(free_port); rp=$(free_port)
  start vigil "$VIGIL_BIN" "$vp"; vpid=${pids[-1]}
  start redis redis-server "$rp"; rpid=${pids[-1]}
  v0=$(rss_kb "$vpid"); r0=$(rss_kb "$rpid")
  "$2" "$vp"; "$2" "$rp"
  sleep 1
  v1=$(rss_kb "$vpid"); r1=$(rss_kb "$rpid")
  printf "%-28s redis %7.1f MB   vigil %7.1f MB   vigil/redis %.2f   (empty: redis %.1f MB, vigil %.1f MB)\n" \
    "$1" "$(echo "$r1/1024" | bc -l)" "$(echo "$v1/1024" | bc -l)" "$(echo "$v1/$r1" | bc -l)" "$(echo "$r0/1024" | bc -l)" "$(echo "$v0/1024" | bc -l)"
  kill "$vpid" "$rpid"; wait "$vpid" "$rpid" 2>/dev/null || true
}

load_strings() { redis-cli -p "$1" DEBUG POPULATE 1000000 >/dev/null; }
load_hashes() { hash_cmds | redis-cli -p "$1" --pipe >/dev/null; }

echo "memory per key (process RSS after load), $(date -u +%F)"
measure "1M small strings" load_strings
measure "100k hashes x 10 fields" load_hashes
