package e2e

// Real clients following a Sentinel failover: the tutorial's PHP client
// (predis 1.1), go-redis's FailoverClient and redis-cli, against vigil
// Sentinels over vigil data nodes, compared with redis-sentinel where the
// behaviour is a client limitation (predis with 'replication' => true).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vigil-kv/vigil/internal/testutil"
)

// topoOptions describe a monitored group: one master, Replicas replicas and
// Sentinels sentinels (quorum 2), data nodes and sentinels of the given kinds
// ("vigil" or "redis").
type topoOptions struct {
	Data, Sentinel  string
	Replicas        int
	Sentinels       int
	DownAfter       int // ms
	FailoverTimeout int // ms
}

// topo is a started group. The sentinels are configured with each other's
// ids and the replicas (known-sentinel / known-replica), as a rewritten
// sentinel.conf would have them, so no test time goes into hello discovery.
type topo struct {
	o         topoOptions
	master    *testutil.Proc
	replicas  []*testutil.Proc
	sentinels []*sentinelNode
}

func randomRunID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func startTopo(t *testing.T, o topoOptions) *topo {
	t.Helper()
	requireRedisTools(t)
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	tp := &topo{o: o}
	var extra []string
	if o.Data == "redis" {
		// redis-server 7.0 waits 5 s for more replicas before a diskless
		// full sync; every data node may become the master.
		extra = []string{"--repl-diskless-sync-delay", "0"}
	}
	tp.master = startData(t, o.Data, testutil.StartOptions{Args: extra})
	for i := 0; i < o.Replicas; i++ {
		tp.replicas = append(tp.replicas, startData(t, o.Data, testutil.StartOptions{
			Args: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(tp.master.Port)}, extra...)}))
	}
	testutil.Eventually(t, 20*time.Second, "replicas in sync", func() bool {
		for _, r := range tp.replicas {
			if infoField(r.Addr, "replication", "master_link_status") != "up" {
				return false
			}
		}
		return infoField(tp.master.Addr, "replication", "connected_slaves") == strconv.Itoa(o.Replicas)
	})
	ports := make([]int, o.Sentinels)
	ids := make([]string, o.Sentinels)
	for i := range ports {
		ports[i] = testutil.FreePort(t)
		ids[i] = randomRunID()
	}
	for i := range ports {
		var b strings.Builder
		fmt.Fprintf(&b, "sentinel myid %s\n", ids[i])
		fmt.Fprintf(&b, "sentinel monitor mymaster 127.0.0.1 %d 2\n", tp.master.Port)
		fmt.Fprintf(&b, "sentinel down-after-milliseconds mymaster %d\n", o.DownAfter)
		fmt.Fprintf(&b, "sentinel failover-timeout mymaster %d\n", o.FailoverTimeout)
		fmt.Fprintf(&b, "sentinel parallel-syncs mymaster 1\n")
		for _, r := range tp.replicas {
			fmt.Fprintf(&b, "sentinel known-replica mymaster 127.0.0.1 %d\n", r.Port)
		}
		for j := range ports {
			if j != i {
				fmt.Fprintf(&b, "sentinel known-sentinel mymaster 127.0.0.1 %d %s\n", ports[j], ids[j])
			}
		}
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		tp.sentinels = append(tp.sentinels, startSentinel(t, o.Sentinel, conf, dir, ports[i]))
	}
	tp.waitHealthy(t, tp.master.Addr, 30*time.Second)
	return tp
}

func (tp *topo) sentinelAddrs() []string {
	var out []string
	for _, s := range tp.sentinels {
		out = append(out, s.proc.Addr)
	}
	return out
}

func (tp *topo) live() []*sentinelNode {
	var out []*sentinelNode
	for _, s := range tp.sentinels {
		if !s.proc.Exited() {
			out = append(out, s)
		}
	}
	return out
}

func (tp *topo) allAgree(want string) bool {
	for _, s := range tp.live() {
		if masterAddr(s.proc.Addr, "mymaster") != want {
			return false
		}
	}
	return true
}

// waitHealthy waits until every live sentinel monitors master with all the
// replicas and all the other sentinels connected and answering, and the
// replicas' INFO refreshed: the state in which a failover can start.
func (tp *topo) waitHealthy(t *testing.T, master string, d time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(d)
	for {
		ok := true
		for _, s := range tp.live() {
			v, err := sdo(s.proc.Addr, "SENTINEL", "MASTER", "mymaster")
			m := fieldMap(v)
			if err != nil || m["ip"]+":"+m["port"] != master || m["flags"] != "master" ||
				m["num-slaves"] != strconv.Itoa(len(tp.replicas)) || m["num-other-sentinels"] != strconv.Itoa(len(tp.sentinels)-1) {
				ok, last = false, fmt.Sprintf("%s: master %v %v", s.proc.Addr, m, err)
				break
			}
			for _, kind := range []string{"REPLICAS", "SENTINELS"} {
				v, err = sdo(s.proc.Addr, "SENTINEL", kind, "mymaster")
				if err != nil {
					ok = false
					break
				}
				for _, e := range v.Elems {
					f := fieldMap(e)
					lp, _ := strconv.Atoi(f["last-ok-ping-reply"])
					if (f["flags"] != "slave" && f["flags"] != "sentinel") || lp > 1500 ||
						(kind == "REPLICAS" && f["master-link-status"] != "ok") {
						ok, last = false, fmt.Sprintf("%s: %s %v", s.proc.Addr, kind, f)
					}
				}
			}
			if !ok {
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tp.dumpLogs(t)
			t.Fatalf("sentinels not healthy after %v: %s", d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tp *topo) dumpLogs(t *testing.T) {
	for i, s := range tp.sentinels {
		t.Logf("---- sentinel %d (%s, %s) log:\n%s", i, s.kind, s.proc.Addr, s.proc.ReadLog())
	}
}

// waitNewMaster waits until every live sentinel names the same master, other
// than old, and that instance reports role:master. It returns its address.
func (tp *topo) waitNewMaster(t *testing.T, old string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if l := tp.live(); len(l) > 0 {
			a := masterAddr(l[0].proc.Addr, "mymaster")
			if a != "" && a != old && tp.allAgree(a) && infoField(a, "replication", "role") == "master" {
				return a
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tp.dumpLogs(t)
	t.Fatalf("no agreed new master (old %s) within %v", old, d)
	return ""
}

func (tp *topo) procByAddr(addr string) *testutil.Proc {
	for _, p := range append([]*testutil.Proc{tp.master}, tp.replicas...) {
		if p.Addr == addr {
			return p
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// The tutorial's PHP client

// phpClient writes the tutorial's predis client into a temp dir with its
// sentinel list rewritten to sentinels, its require pointed at Debian's
// predis autoloader, and 'replication' set to repl (the tutorial says true).
// The client's key and value get a suffix so that runs are distinguishable.
func phpClient(t *testing.T, sentinels []string, repl, value string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "..", "shared", "seed", "predis-client.php"))
	if err != nil {
		t.Skipf("seed predis-client.php not found: %v", err)
	}
	text := string(src)
	replace := func(old, new string) {
		if !strings.Contains(text, old) {
			t.Fatalf("predis-client.php lacks %q", old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	replace("require 'vendor/autoload.php';", "require '/usr/share/php/Predis/Autoloader.php'; Predis\\Autoloader::register();")
	re := regexp.MustCompile(`'tcp://192\.168\.[0-9.]+:26379'`)
	i := 0
	text = re.ReplaceAllStringFunc(text, func(string) string {
		a := sentinels[i%len(sentinels)]
		i++
		return "'tcp://" + a + "'"
	})
	if i != 3 {
		t.Fatalf("expected 3 sentinel addresses in predis-client.php, rewrote %d", i)
	}
	replace("'replication' => true,", "'replication' => "+repl+",")
	replace("'Hello HA Redis!'", "'"+value+"'")
	if m := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+`).FindAllString(text, -1); len(m) > 0 {
		for _, a := range m {
			if !strings.HasPrefix(a, "127.") {
				t.Fatalf("rewritten client still dials %s", a)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "client.php")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runPHP(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "php", script).CombinedOutput()
	if err != nil {
		t.Fatalf("php %s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func requirePredis(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, "php")
	if _, err := os.Stat("/usr/share/php/Predis/Autoloader.php"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("php-nrk-predis is required under CI=true")
		}
		t.Skip("php-nrk-predis not installed")
	}
}

// TestSentinelClientTutorialTrue: the tutorial's client as written
// ('replication' => true) treats the sentinel addresses as data nodes of a
// master/replica group without a master and fails before sending anything;
// with vigil's sentinels it fails exactly as with redis-sentinel.
func TestSentinelClientTutorialTrue(t *testing.T) {
	requirePredis(t)
	outs := map[string]string{}
	for _, kind := range []string{"redis", "vigil"} {
		tp := startTopo(t, topoOptions{Data: kind, Sentinel: kind, Replicas: 1, DownAfter: 1500, FailoverTimeout: 10000})
		outs[kind] = runPHP(t, phpClient(t, tp.sentinelAddrs(), "true", "tutorial"))
		t.Logf("%s sentinels, 'replication' => true: %s", kind, outs[kind])
	}
	if outs["vigil"] != outs["redis"] {
		t.Errorf("vigil: %q\nredis: %q", outs["vigil"], outs["redis"])
	}
	if !strings.Contains(outs["vigil"], "Could not connect to Redis: No master server available for replication") {
		t.Errorf("unexpected output %q", outs["vigil"])
	}
}

// goRedisWriter writes k:i through a go-redis FailoverClient every 20 ms and
// records acknowledged writes.
type goRedisWriter struct {
	c         *redis.Client
	stop      chan struct{}
	done      chan struct{}
	mu        sync.Mutex
	acks      []time.Time
	errs      int
	lastErr   error
	acked     atomic.Int64
	lastAcked atomic.Int64
}

func startGoRedisWriter(t *testing.T, sentinels []string) *goRedisWriter {
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:       "mymaster",
		SentinelAddrs:    sentinels,
		DialTimeout:      300 * time.Millisecond,
		ReadTimeout:      300 * time.Millisecond,
		WriteTimeout:     300 * time.Millisecond,
		MaxRetries:       -1,
		DisableIndentity: true,
	})
	w := &goRedisWriter{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := c.Set(ctx, "k:"+strconv.Itoa(i), i, 0).Err()
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acks = append(w.acks, time.Now())
				w.acked.Add(1)
				w.lastAcked.Store(int64(i))
			} else {
				w.errs++
				w.lastErr = err
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.close() })
	return w
}

func (w *goRedisWriter) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
		<-w.done
		w.c.Close()
	}
}

// gap returns the longest interval without an acknowledged write after t0.
func (w *goRedisWriter) gapAfter(t0 time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	prev := t0
	for _, a := range w.acks {
		if a.Before(t0) {
			continue
		}
		if d := a.Sub(prev); d > gap {
			gap = d
		}
		prev = a
	}
	return gap
}

func redisCLIMaster(t *testing.T, sentinel string) string {
	t.Helper()
	host, port, _ := strings.Cut(sentinel, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "SENTINEL", "get-master-addr-by-name", "mymaster").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), ":")
}

// TestSentinelClientsFollowFailover: 1 vigil master + 2 vigil replicas + 3
// vigil sentinels; predis ('replication' => 'sentinel'), go-redis's
// FailoverClient and redis-cli all find the new master after a SIGKILL of
// the master.
func TestSentinelClientsFollowFailover(t *testing.T) {
	requirePredis(t)
	testutil.RequireTool(t, "redis-cli")
	tp := startTopo(t, topoOptions{Data: "vigil", Sentinel: "vigil", Replicas: 2, DownAfter: 1000, FailoverTimeout: 10000})
	old := tp.master.Addr
	sents := tp.sentinelAddrs()

	// redis-cli asks each sentinel.
	for _, s := range sents {
		if got := redisCLIMaster(t, s); got != old {
			t.Fatalf("redis-cli via %s: %q, want %s", s, got, old)
		}
	}
	// predis, before the failover.
	php := phpClient(t, sents, "'sentinel'", "before")
	if out := runPHP(t, php); out != "Successfully connected to Redis. Value: before" {
		t.Fatalf("predis before failover: %q", out)
	}
	if v := mustDo(t, old, "GET", "test_key"); string(v.Str) != "before" {
		t.Fatalf("predis wrote %q to the master", v.Str)
	}

	w := startGoRedisWriter(t, sents)
	testutil.Eventually(t, 10*time.Second, "go-redis writer acknowledged writes", func() bool { return w.acked.Load() > 5 })

	t0 := time.Now()
	tp.master.Kill()
	newAddr := tp.waitNewMaster(t, old, 30*time.Second)
	t.Logf("sentinels agree on %s %v after SIGKILL", newAddr, time.Since(t0))

	// go-redis follows: writes resume on the new master.
	n := w.acked.Load()
	testutil.Eventually(t, 15*time.Second, "go-redis writes resume after the failover", func() bool { return w.acked.Load() > n+10 })
	w.close()
	last := w.lastAcked.Load()
	if v := mustDo(t, newAddr, "GET", "k:"+strconv.FormatInt(last, 10)); string(v.Str) != strconv.FormatInt(last, 10) {
		t.Errorf("last acknowledged go-redis write k:%d not on the new master: %v", last, v)
	}
	t.Logf("go-redis FailoverClient: longest window without an acknowledged write %v (%d errors, last %v)", w.gapAfter(t0), w.errs, w.lastErr)

	// redis-cli sees the new address on every sentinel.
	for _, s := range sents {
		if got := redisCLIMaster(t, s); got != newAddr {
			t.Errorf("redis-cli via %s after failover: %q, want %s", s, got, newAddr)
		}
	}
	// predis, after: writes to the new master.
	php = phpClient(t, sents, "'sentinel'", "after")
	if out := runPHP(t, php); out != "Successfully connected to Redis. Value: after" {
		t.Fatalf("predis after failover: %q", out)
	}
	if v := mustDo(t, newAddr, "GET", "test_key"); string(v.Str) != "after" {
		t.Fatalf("predis after failover: new master has test_key=%q", v.Str)
	}
	// The tutorial's 'replication' => true still fails the same way.
	if out := runPHP(t, phpClient(t, sents, "true", "x")); !strings.Contains(out, "No master server available for replication") {
		t.Errorf("'replication' => true after failover: %q", out)
	}
	// The other replica follows the new master.
	for _, r := range tp.replicas {
		if r.Addr == newAddr {
			continue
		}
		testutil.Eventually(t, 15*time.Second, "remaining replica reconfigured", func() bool {
			return infoField(r.Addr, "replication", "master_port") == strings.Split(newAddr, ":")[1] &&
				infoField(r.Addr, "replication", "master_link_status") == "up"
		})
	}
}

// TestSentinelSigstopMaster: the master is stopped (SIGSTOP) long enough to
// be failed over (1 replica); when it resumes (SIGCONT) it still claims to
// be master and the sentinels demote it to a replica of the new master.
func TestSentinelSigstopMaster(t *testing.T) {
	tp := startTopo(t, topoOptions{Data: "vigil", Sentinel: "vigil", Replicas: 1, DownAfter: 1000, FailoverTimeout: 10000})
	old := tp.master
	if err := old.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			old.Signal(syscall.SIGCONT)
		}
	}()
	t0 := time.Now()
	newAddr := tp.waitNewMaster(t, old.Addr, 30*time.Second)
	t.Logf("failover to %s %v after SIGSTOP", newAddr, time.Since(t0))
	old.Signal(syscall.SIGCONT)
	resumed = true
	t1 := time.Now()
	newPort := strings.Split(newAddr, ":")[1]
	testutil.Eventually(t, 30*time.Second, "resumed old master demoted to a replica of the new one", func() bool {
		return infoField(old.Addr, "replication", "role") == "slave" &&
			infoField(old.Addr, "replication", "master_port") == newPort &&
			infoField(old.Addr, "replication", "master_link_status") == "up"
	})
	t.Logf("old master demoted %v after SIGCONT", time.Since(t1))
	if !tp.allAgree(newAddr) {
		t.Errorf("sentinels disagree after the old master resumed")
	}
}

// TestSentinelKillSentinelDuringFailover: 2 replicas; the Sentinel elected
// leader is killed while it reconfigures the replicas (after
// +promoted-slave); the remaining two still complete the failover: every
// sentinel names the promoted replica and the other replica follows it.
func TestSentinelKillSentinelDuringFailover(t *testing.T) {
	tp := startTopo(t, topoOptions{Data: "vigil", Sentinel: "vigil", Replicas: 2, DownAfter: 1000, FailoverTimeout: 10000})
	subs := make([]*subscription, len(tp.sentinels))
	for i, s := range tp.sentinels {
		subs[i] = subscribe(t, s.proc.Addr, "+promoted-slave")
	}
	old := tp.master.Addr
	tp.master.Kill()
	var leader *sentinelNode
	testutil.Eventually(t, 30*time.Second, "a leader promotes a replica", func() bool {
		for i, s := range subs {
			if s.has("+promoted-slave") {
				leader = tp.sentinels[i]
				return true
			}
		}
		return false
	})
	leader.proc.Kill()
	t0 := time.Now()
	var promoted string
	for i, s := range subs {
		if tp.sentinels[i] == leader {
			s.mu.Lock()
			for _, m := range s.msgs {
				if f := strings.Fields(m); len(f) > 2 && f[0] == "+promoted-slave" {
					promoted = f[2]
				}
			}
			s.mu.Unlock()
		}
	}
	newAddr := tp.waitNewMaster(t, old, 40*time.Second)
	t.Logf("leader %s killed after +promoted-slave %s; remaining sentinels agree on %s %v later", leader.proc.Addr, promoted, newAddr, time.Since(t0))
	for _, s := range tp.live() {
		l := s.proc.ReadLog()
		switch {
		case strings.Contains(l, "+vigil-takeover"):
			t.Logf("sentinel %s took over the failover (+vigil-takeover)", s.proc.Addr)
		case strings.Contains(l, "+config-update-from"):
			t.Logf("sentinel %s learnt the new configuration from a hello", s.proc.Addr)
		}
	}
	// The replica the dead leader promoted may already have acknowledged
	// writes: the new leader must keep it.
	if newAddr != promoted {
		t.Errorf("new master %s, but the dead leader had promoted %s", newAddr, promoted)
	}
	// Faster than redis-sentinel's 2 x failover-timeout wait.
	if d := time.Since(t0); d > 2*time.Duration(tp.o.FailoverTimeout)*time.Millisecond {
		t.Errorf("failover completed %v after the leader died, want < 2 x failover-timeout", d)
	}
	newPort := strings.Split(newAddr, ":")[1]
	for _, r := range tp.replicas {
		if r.Addr == newAddr {
			continue
		}
		testutil.Eventually(t, 40*time.Second, "other replica replicates from the new master", func() bool {
			return infoField(r.Addr, "replication", "master_port") == newPort &&
				infoField(r.Addr, "replication", "master_link_status") == "up"
		})
	}
}
