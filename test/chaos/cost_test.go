package chaos

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

var (
	flagCost    = flag.String("chaos.cost", "", "TestSafeModeCost: write the markdown table here")
	flagCostDur = flag.Duration("chaos.cost.dur", 5*time.Second, "TestSafeModeCost: duration per configuration")
	flagCostC   = flag.Int("chaos.cost.clients", 50, "TestSafeModeCost: concurrent clients")
)

type costCase struct {
	name     string
	kind     string // vigil / redis
	replicas int
	safeN    int // vigil-min-ack-replicas with safe mode; 0: off
	waitN    int // WAIT n 0 after each SET; 0: none
}

// TestSafeModeCost measures SET throughput and latency percentiles (one
// request in flight per client; a SET+WAIT pair counts as one write) in safe
// mode, default mode and redis-server + WAIT. Run:
// go test ./test/chaos/ -run TestSafeModeCost -chaos.cost=FILE
func TestSafeModeCost(t *testing.T) {
	if *flagCost == "" {
		t.Skip("set -chaos.cost")
	}
	cases := []costCase{
		{"vigil default, 1 replica", "vigil", 1, 0, 0},
		{"vigil safe mode N=1, 1 replica", "vigil", 1, 1, 0},
		{"redis-server + WAIT 1 0, 1 replica", "redis", 1, 0, 1},
		{"redis-server default, 1 replica", "redis", 1, 0, 0},
		{"vigil default, 2 replicas", "vigil", 2, 0, 0},
		{"vigil safe mode N=1, 2 replicas", "vigil", 2, 1, 0},
		{"vigil safe mode N=2, 2 replicas", "vigil", 2, 2, 0},
		{"redis-server + WAIT 1 0, 2 replicas", "redis", 2, 0, 1},
		{"redis-server + WAIT 2 0, 2 replicas", "redis", 2, 0, 2},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| configuration | SET/s | p50 ms | p99 ms |\n|---|---|---|---|\n")
	for _, cc := range cases {
		t.Run(cc.name, func(t *testing.T) {
			if cc.kind == "redis" {
				testutil.RequireTool(t, "redis-server")
			}
			start := func(args ...string) *testutil.Proc {
				o := testutil.StartOptions{Args: args}
				if cc.kind == "redis" {
					return testutil.StartRedis(t, o)
				}
				return testutil.StartVigil(t, o)
			}
			var margs []string
			if cc.safeN > 0 {
				margs = []string{"--vigil-safe-mode", "yes", "--vigil-min-ack-replicas", strconv.Itoa(cc.safeN), "--vigil-confirm-timeout", "2000"}
			}
			// No diskless-sync delay: the replicas' first sync starts at
			// once instead of 5 s later.
			m := start(append([]string{"--repl-diskless-sync-delay", "0"}, margs...)...)
			var reps []*testutil.Proc
			for i := 0; i < cc.replicas; i++ {
				reps = append(reps, start(append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(m.Port)}, margs...)...))
			}
			// Measure only once every replica finished its first sync and
			// streams: connected_slaves alone also counts a replica still
			// waiting for its full sync, and a WAIT issued then blocks until
			// the sync is done (the old harness measured that wait: ~5 s of
			// repl-diskless-sync-delay, see docs/performance.md).
			testutil.Eventually(t, 30*time.Second, "replicas online and in sync", func() bool {
				v, err := do(m.Addr, "INFO", "replication")
				if err != nil || strings.Count(string(v.Str), "state=online") != cc.replicas {
					return false
				}
				for _, r := range reps {
					if info(r.Addr, "master_link_status") != "up" || info(r.Addr, "master_sync_in_progress") != "0" {
						return false
					}
				}
				return true
			})
			if cc.safeN > 0 {
				testutil.Eventually(t, 10*time.Second, "safe mode confirmed", func() bool {
					v, err := do(m.Addr, "SET", "warm", "1")
					return err == nil && v.Type == '+'
				})
			}
			ops, p50, p99 := costLoad(t, m.Addr, cc.waitN, *flagCostC, *flagCostDur)
			line := fmt.Sprintf("| %s | %.0f | %.2f | %.2f |\n", cc.name, ops, p50.Seconds()*1000, p99.Seconds()*1000)
			t.Log(line)
			b.WriteString(line)
		})
	}
	os.WriteFile(*flagCost, []byte(b.String()), 0o644)
	t.Log("\n" + b.String())
}

func costLoad(t *testing.T, addr string, waitN, clients int, dur time.Duration) (float64, time.Duration, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := testutil.Dial(addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			var my []time.Duration
			val := strings.Repeat("x", 64)
			for n := 0; time.Now().Before(deadline); n++ {
				t0 := time.Now()
				key := fmt.Sprintf("k:%d:%d", i, n%1000)
				if waitN > 0 {
					c.Send("SET", key, val)
					c.Send("WAIT", strconv.Itoa(waitN), "0")
					if _, err := c.Read(); err != nil {
						t.Error(err)
						return
					}
					if _, err := c.Read(); err != nil {
						t.Error(err)
						return
					}
				} else {
					v, err := c.Do("SET", key, val)
					if err != nil || v.Type != '+' {
						t.Errorf("SET: %v %q", err, v.Str)
						return
					}
				}
				my = append(my, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, my...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if len(lat) == 0 {
		return 0, 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return float64(len(lat)) / dur.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100]
}
