package chaos

import (
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// TestSafeModeRules checks the master-side rules of safe mode on a small
// topology (master + 1 replica, no Sentinels): acknowledgement, the
// -NOREPLICAS reply when the ack doesn't come, fencing, recovery, restart
// safety, and that the master never wipes a replica that is ahead of it.
func TestSafeModeRules(t *testing.T) {
	safe := []string{"--vigil-safe-mode", "yes", "--vigil-min-ack-replicas", "1", "--vigil-fence-timeout", "1500", "--vigil-confirm-timeout", "1500"}
	m := testutil.StartVigil(t, testutil.StartOptions{Args: safe})
	// Restart safety: a master that just started accepts no write.
	if v, _ := do(m.Addr, "SET", "k", "v"); v.Type != '-' || !strings.Contains(string(v.Str), "vigil safe mode") {
		t.Fatalf("write on a fresh safe-mode master without replicas: %q", v.Str)
	}
	r := testutil.StartVigil(t, testutil.StartOptions{Args: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(m.Port)}, safe...)})
	testutil.Eventually(t, 15*time.Second, "writes accepted once the replica ACKs", func() bool {
		v, err := do(m.Addr, "SET", "k", "v")
		return err == nil && v.Type == '+'
	})
	if got := info(m.Addr, "vigil_write_state"); got != "ok" {
		t.Fatalf("vigil_write_state = %q", got)
	}
	// The ack arrived: the replica has the key when the reply is out.
	for i := 0; i < 50; i++ {
		k := "a" + strconv.Itoa(i)
		if v, _ := do(m.Addr, "SET", k, "1"); v.Type != '+' {
			t.Fatalf("SET: %q", v.Str)
		}
		if v, _ := do(r.Addr, "EXISTS", k); v.Int != 1 {
			t.Fatalf("acknowledged %s is not on the replica", k)
		}
	}
	// Pipelined batch: every reply released together, in order.
	c := testutil.MustDial(t, m.Addr)
	for i := 0; i < 10; i++ {
		c.Send("INCR", "ctr")
	}
	for i := 1; i <= 10; i++ {
		v, err := c.Read()
		if err != nil || v.Int != int64(i) {
			t.Fatalf("pipelined INCR %d: %v %+v", i, err, v)
		}
	}
	// The replica stops: the write in flight gets -NOREPLICAS after the
	// fence timeout, then the master is fenced.
	r.Stop(t) // every thread stopped: no ACK can still leave it
	t0 := time.Now()
	v, _ := c.Do("SET", "x", "1")
	if v.Type != '-' || !strings.HasPrefix(string(v.Str), "NOREPLICAS") {
		t.Fatalf("unacknowledged write: %q", v.Str)
	}
	if d := time.Since(t0); d < time.Second || d > 8*time.Second {
		t.Fatalf("ack timeout took %v", d)
	}
	v, _ = c.Do("GET", "k") // reads still work
	if string(v.Str) != "v" {
		t.Fatalf("GET while fenced: %q", v.Str)
	}
	testutil.Eventually(t, 5*time.Second, "fenced", func() bool {
		v, _ := do(m.Addr, "SET", "y", "1")
		return v.Type == '-' && strings.Contains(string(v.Str), "fenced")
	})
	r.Signal(syscall.SIGCONT)
	testutil.Eventually(t, 10*time.Second, "unfenced once the replica ACKs again", func() bool {
		v, _ := do(m.Addr, "SET", "z", "1")
		return v.Type == '+'
	})
	// The master restarts without its data: it must not wipe the replica.
	m.Kill()
	m2 := testutil.StartVigil(t, testutil.StartOptions{Port: m.Port, Args: safe})
	time.Sleep(3 * time.Second)
	if v, _ := do(r.Addr, "EXISTS", "a49"); v.Int != 1 {
		t.Fatalf("the replica was wiped by the empty restarted master")
	}
	if v, _ := do(m2.Addr, "SET", "k", "v"); v.Type != '-' {
		t.Fatalf("the restarted empty master accepted a write")
	}
	if !strings.Contains(m2.ReadLog(), "refusing a full resync") {
		t.Fatalf("no refusal logged:\n%s", m2.ReadLog())
	}
	// Sentinels' PINGs now fail, so they would fail over; others' work.
	sc := testutil.MustDial(t, m2.Addr)
	sc.MustDo(t, "CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
	if v, _ := sc.Do("PING"); v.Type != '-' || !strings.HasPrefix(string(v.Str), "VIGILSTALE") {
		t.Fatalf("sentinel PING on a stale master: %q", v.Str)
	}
	if v, _ := do(m2.Addr, "PING"); v.Type != '+' {
		t.Fatalf("client PING: %q", v.Str)
	}
	// Once re-pointed at the replica (what Sentinel does after failing
	// over), it is a normal replica again.
	do(r.Addr, "REPLICAOF", "NO", "ONE")
	sc.MustDo(t, "REPLICAOF", "127.0.0.1", strconv.Itoa(r.Port))
	testutil.Eventually(t, 10*time.Second, "old master resynced from the replica", func() bool {
		v, _ := do(m2.Addr, "EXISTS", "a49")
		return v.Int == 1
	})
	if v, _ := sc.Do("PING"); v.Type != '+' {
		iv, _ := do(m2.Addr, "INFO", "replication")
		t.Fatalf("sentinel PING after the re-point: %q\n%s\n%s", v.Str, iv.Str, m2.ReadLog())
	}
}

// Without safe mode nothing changes: no INFO fields, no fencing.
func TestSafeModeOff(t *testing.T) {
	m := testutil.StartVigil(t, testutil.StartOptions{})
	if v, _ := do(m.Addr, "SET", "k", "v"); v.Type != '+' {
		t.Fatalf("SET: %q", v.Str)
	}
	if got := info(m.Addr, "vigil_safe_mode"); got != "" {
		t.Fatalf("vigil fields in INFO without safe mode")
	}
}

// A master that loses its Sentinel majority is fenced, and when the
// Sentinels are back it stays unconfirmed for vigil-confirm-timeout (they
// may have started failing it over meanwhile; see the safe-mode
// simulation in internal/sentinel/core/sim_safe_test.go).
func TestSafeModeSentinelLossUnconfirms(t *testing.T) {
	safe := []string{"--vigil-safe-mode", "yes", "--vigil-min-ack-replicas", "1", "--vigil-fence-timeout", "1000", "--vigil-confirm-timeout", "4000"}
	m := testutil.StartVigil(t, testutil.StartOptions{Args: safe})
	testutil.StartVigil(t, testutil.StartOptions{Args: append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(m.Port)}, safe...)})
	// A stand-in Sentinel: a connection named like Sentinel's, PINGing.
	sc := testutil.MustDial(t, m.Addr)
	sc.MustDo(t, "CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
	var pinging atomic.Bool
	pinging.Store(true)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if pinging.Load() {
					sc.Do("PING")
				}
			}
		}
	}()
	testutil.Eventually(t, 20*time.Second, "writes accepted", func() bool {
		v, _ := do(m.Addr, "SET", "k", "v")
		return v.Type == '+'
	})
	pinging.Store(false)
	testutil.Eventually(t, 5*time.Second, "fenced without the Sentinel", func() bool {
		v, _ := do(m.Addr, "SET", "k", "v")
		return v.Type == '-' && strings.Contains(string(v.Str), "Sentinels heard")
	})
	time.Sleep(1500 * time.Millisecond) // the Sentinel stays away for a while
	pinging.Store(true)
	back := time.Now()
	testutil.Eventually(t, 5*time.Second, "refused as unconfirmed once the Sentinel is back", func() bool {
		v, _ := do(m.Addr, "SET", "k", "v")
		return v.Type == '-' && strings.Contains(string(v.Str), "not yet confirmed")
	})
	testutil.Eventually(t, 20*time.Second, "confirmed again", func() bool {
		v, _ := do(m.Addr, "SET", "k", "v")
		return v.Type == '+'
	})
	if d := time.Since(back); d < 3*time.Second {
		t.Fatalf("confirmed %v after the Sentinel came back, before vigil-confirm-timeout (4 s)", d)
	}
	if got := info(m.Addr, "vigil_confirm_timeout"); got != "4000" {
		t.Fatalf("vigil_confirm_timeout = %q", got)
	}
}
