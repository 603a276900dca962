package e2e

// Failover time as a client sees it: a writer that goes through the
// Sentinels measures the window without an acknowledged write after the
// master is SIGKILLed, for vigil (sentinels + data nodes) and for Debian's
// redis-sentinel + redis-server with the same settings.
//
//	go test ./test/e2e -run TestFailoverTime -v                 # 3 runs per kind
//	FAILOVER_RUNS=7 go test ./test/e2e -run TestFailoverTime -v
//	bench/failover.sh                                           # the same, as a table

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

const (
	ftDownAfter       = 2000  // ms
	ftFailoverTimeout = 10000 // ms
	ftWritePeriod     = 10 * time.Millisecond
	ftOpTimeout       = 200 * time.Millisecond
)

// sentinelWriter writes SET k:i i at a steady rate to the master it learns
// from the Sentinels: after any error (connection refused, timeout,
// -READONLY, ...) it asks the sentinels in order with SENTINEL
// GET-MASTER-ADDR-BY-NAME and uses the first answer.
type sentinelWriter struct {
	sentinels []string
	stop      chan struct{}
	done      chan struct{}

	mu   sync.Mutex
	acks []ack
	errs int
}

type ack struct {
	at   time.Time
	addr string
	i    int
}

func startSentinelWriter(t *testing.T, sentinels []string) *sentinelWriter {
	w := &sentinelWriter{sentinels: sentinels, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.close)
	return w
}

func (w *sentinelWriter) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *sentinelWriter) ask() string {
	for _, s := range w.sentinels {
		c, err := testutil.Dial(s)
		if err != nil {
			continue
		}
		c.Conn.SetDeadline(time.Now().Add(ftOpTimeout))
		v, err := c.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
		c.Close()
		if err == nil && len(v.Elems) == 2 {
			return string(v.Elems[0].Str) + ":" + string(v.Elems[1].Str)
		}
	}
	return ""
}

func (w *sentinelWriter) run() {
	defer close(w.done)
	var c *testutil.Client
	var addr string
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	next := time.Now()
	fail := func() {
		w.mu.Lock()
		w.errs++
		w.mu.Unlock()
		if c != nil {
			c.Close()
			c = nil
		}
	}
	for i := 0; ; {
		if d := time.Until(next); d > 0 {
			select {
			case <-w.stop:
				return
			case <-time.After(d):
			}
		} else {
			select {
			case <-w.stop:
				return
			default:
			}
		}
		next = next.Add(ftWritePeriod)
		if now := time.Now(); next.Before(now) {
			next = now // steady rate, no catch-up burst
		}
		if c == nil {
			if addr = w.ask(); addr == "" {
				continue
			}
			var err error
			if c, err = testutil.Dial(addr); err != nil {
				fail()
				continue
			}
		}
		c.Conn.SetDeadline(time.Now().Add(ftOpTimeout))
		v, err := c.Do("SET", "k:"+strconv.Itoa(i), strconv.Itoa(i))
		if err != nil || v.Type != '+' {
			fail()
			continue
		}
		w.mu.Lock()
		w.acks = append(w.acks, ack{time.Now(), addr, i})
		w.mu.Unlock()
		i++
	}
}

func (w *sentinelWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// firstAckAfter returns the first write acknowledged after t0 by a server
// other than old (old may still acknowledge a write in flight while it is
// being killed).
func (w *sentinelWriter) firstAckAfter(t0 time.Time, old string) (ack, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acks {
		if a.at.After(t0) && a.addr != old {
			return a, true
		}
	}
	return ack{}, false
}

// failoverWindow runs one failover of a fresh topology of the given kind
// and returns the window from SIGKILL of the master to the first write
// acknowledged by the new master. crashLeader makes the elected leader crash
// right after +elected-leader (SENTINEL SIMULATE-FAILURE crash-after-election).
func failoverWindow(t *testing.T, kind string, crashLeader bool) time.Duration {
	t.Helper()
	tp := startTopo(t, topoOptions{Data: kind, Sentinel: kind, Replicas: 2, DownAfter: ftDownAfter, FailoverTimeout: ftFailoverTimeout})
	if crashLeader {
		for _, s := range tp.sentinels {
			if v := mustDo(t, s.proc.Addr, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election"); string(v.Str) != "OK" {
				t.Fatalf("SIMULATE-FAILURE on %s sentinel: %v", kind, v)
			}
		}
	}
	w := startSentinelWriter(t, tp.sentinelAddrs())
	testutil.Eventually(t, 10*time.Second, "writer acknowledged writes", func() bool { return w.count() >= 20 })
	old := tp.master.Addr
	t0 := time.Now()
	tp.master.Kill()
	if crashLeader {
		testutil.Eventually(t, 30*time.Second, "the elected leader crashes", func() bool { return len(tp.live()) < len(tp.sentinels) })
		for _, s := range tp.live() {
			mustDo(t, s.proc.Addr, "SENTINEL", "SIMULATE-FAILURE", "help") // clears the flags
		}
	}
	limit := 60 * time.Second
	if crashLeader {
		limit = 2*time.Duration(ftFailoverTimeout)*time.Millisecond + 30*time.Second
	}
	var a ack
	deadline := time.Now().Add(limit)
	for {
		var ok bool
		if a, ok = w.firstAckAfter(t0, old); ok {
			break
		}
		if time.Now().After(deadline) {
			tp.dumpLogs(t)
			t.Fatalf("%s: no write acknowledged within %v of the SIGKILL", kind, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.close()
	window := a.at.Sub(t0)
	if os.Getenv("FAILOVER_DUMP") != "" {
		t.Logf("SIGKILL at %s, first ack at %s on %s", t0.Format("15:04:05.000"), a.at.Format("15:04:05.000"), a.addr)
		tp.dumpLogs(t)
	}
	// The first write acknowledged by the new master is readable there.
	if v, err := sdo(a.addr, "GET", "k:"+strconv.Itoa(a.i)); err != nil || string(v.Str) != strconv.Itoa(a.i) {
		t.Errorf("%s: k:%d acknowledged by %s but GET says %v %v", kind, a.i, a.addr, v, err)
	}
	return window
}

func ftRuns() int {
	if n, err := strconv.Atoi(os.Getenv("FAILOVER_RUNS")); err == nil && n > 0 {
		return n
	}
	return 3
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtMS(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// failoverTable logs a table that bench/failover.sh extracts (lines starting
// with "FAILOVER|").
func failoverTable(t *testing.T, scenario string, res map[string][]time.Duration) {
	for _, kind := range []string{"vigil", "redis"} {
		ds := res[kind]
		if len(ds) == 0 {
			continue
		}
		var runs []string
		for _, d := range ds {
			runs = append(runs, fmtMS(d))
		}
		mn, mx := slices.Min(ds), slices.Max(ds)
		t.Logf("FAILOVER| %s | %s | %d | %s | %s | %s | %s |", scenario, kind, len(ds), fmtMS(median(ds)), fmtMS(mn), fmtMS(mx), strings.Join(runs, " "))
	}
}

// TestFailoverTime: SIGKILL of the master, writer through the Sentinels;
// vigil's median window must not exceed redis-sentinel's by more than a
// small tolerance, nor down-after + 1 s (+ tolerance).
func TestFailoverTime(t *testing.T) {
	requireRedisTools(t)
	runs := ftRuns()
	res := map[string][]time.Duration{}
	// Interleaved so that load on the shared machine hits both.
	for r := 0; r < runs; r++ {
		for _, kind := range []string{"vigil", "redis"} {
			t.Run(fmt.Sprintf("%s/%d", kind, r), func(t *testing.T) {
				d := failoverWindow(t, kind, false)
				t.Logf("%s run %d: no acknowledged write for %v after SIGKILL", kind, r, d)
				res[kind] = append(res[kind], d)
			})
		}
	}
	if t.Failed() || len(res["vigil"]) == 0 || len(res["redis"]) == 0 {
		return // a failed run, or -run selected one kind
	}
	failoverTable(t, "kill master", res)
	const tolerance = 750 * time.Millisecond
	mv, mr := median(res["vigil"]), median(res["redis"])
	t.Logf("median window: vigil %v, redis %v (down-after %d ms, failover-timeout %d ms)", mv, mr, ftDownAfter, ftFailoverTimeout)
	if mv > mr+tolerance {
		t.Errorf("vigil median window %v > redis-sentinel's %v + %v", mv, mr, tolerance)
	}
	if lim := time.Duration(ftDownAfter)*time.Millisecond + time.Second + tolerance; mv > lim {
		t.Errorf("vigil median window %v > down-after + 1s + %v = %v", mv, tolerance, lim)
	}
}

// TestFailoverTimeLeaderDeath: the sentinel elected leader crashes right
// after +elected-leader. redis-sentinel's followers wait 2 x failover-timeout
// before trying again; vigil's take over after about down-after.
func TestFailoverTimeLeaderDeath(t *testing.T) {
	requireRedisTools(t)
	res := map[string][]time.Duration{}
	kinds := []string{"vigil", "redis"}
	if os.Getenv("FAILOVER_SKIP_REDIS_LEADER_DEATH") != "" {
		kinds = kinds[:1]
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			d := failoverWindow(t, kind, true)
			t.Logf("%s: leader crashed after election; no acknowledged write for %v after SIGKILL", kind, d)
			res[kind] = append(res[kind], d)
		})
	}
	if t.Failed() || len(res["redis"]) == 0 {
		return
	}
	failoverTable(t, "kill master + leader", res)
	if mv, mr := res["vigil"][0], res["redis"][0]; mv > mr {
		t.Errorf("vigil window %v > redis-sentinel's %v with a dead leader", mv, mr)
	}
	if lim := 3*time.Duration(ftDownAfter)*time.Millisecond + 5*time.Second; res["vigil"][0] > lim {
		t.Errorf("vigil window %v with a dead leader > %v", res["vigil"][0], lim)
	}
}
