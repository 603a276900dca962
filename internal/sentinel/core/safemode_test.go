package core

import (
	"strings"
	"testing"
)

// vigil safe mode: promote only a replica with the highest offset among
// the reachable ones, and refuse when fewer than R-N+1 are reachable.
func TestRuleSafeModeSelection(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel down-after-milliseconds mymaster 1000",
		"sentinel vigil-safe-mode mymaster yes 1")
	m := h.m()
	if !m.SafeMode || m.SafeMinAck != 1 {
		t.Fatalf("directive not parsed: %v %d", m.SafeMode, m.SafeMinAck)
	}
	found := false
	for _, l := range h.n.State().ConfigLines() {
		if strings.Join(l, " ") == "sentinel vigil-safe-mode mymaster yes 1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("directive not persisted: %v", h.n.State().ConfigLines())
	}
	h.tickTo(50000)
	type rs struct {
		prio  int
		off   int64
		runid string
		down  bool
		stale bool // INFO from before the master went down
	}
	mk := func(specs ...rs) {
		m.replicas = nil
		m.sdown, m.sdownT = true, h.n.now-2000
		for k, s := range specs {
			r := m.addReplica(Addr{"10.0.0." + fmtInt(10+k), 6379})
			r.slavePriority, r.replOffset, r.runid, r.sdown = s.prio, s.off, s.runid, s.down
			r.cmd.connected = !s.down
			r.cmd.lastAvail = h.n.now
			r.infoRefresh = h.n.now
			if s.stale {
				r.infoRefresh = m.sdownT - 100
			}
		}
	}
	pick := func() string {
		r := h.n.selectReplica(m)
		if r == nil {
			return ""
		}
		return r.addr.IP
	}
	// Priority no longer beats offset: the lagging replica may miss
	// acknowledged writes.
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 50, off: 1, runid: "c"}, rs{prio: 100, off: 20, runid: "a"})
	if got := pick(); got != "10.0.0.12" {
		t.Fatalf("highest offset wins in safe mode: got %s", got)
	}
	// Ties on offset: priority, then run id.
	mk(rs{prio: 100, off: 20, runid: "b"}, rs{prio: 50, off: 20, runid: "c"}, rs{prio: 100, off: 20, runid: "a"})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("priority breaks offset ties: got %s", got)
	}
	// R=3, N=1: all 3 must be reachable.
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 100, off: 20, runid: "a"}, rs{prio: 100, off: 30, down: true})
	if got := pick(); got != "" {
		t.Fatalf("must refuse with 2 of 3 reachable and N=1: got %s", got)
	}
	// An INFO older than the master's SDOWN doesn't count as reachable.
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 100, off: 20, runid: "a", stale: true})
	if got := pick(); got != "" {
		t.Fatalf("stale offsets must not be trusted: got %s", got)
	}
	// The best replica has priority 0: nobody else may be promoted.
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 0, off: 20, runid: "a"})
	if got := pick(); got != "" {
		t.Fatalf("must not promote a replica behind the priority-0 one: got %s", got)
	}
	// N=2 of R=3: 2 reachable are enough.
	m.SafeMinAck = 2
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 100, off: 20, runid: "a"}, rs{prio: 100, off: 30, down: true})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("N=2, 2 of 3 reachable: got %s", got)
	}
	// N from the master's INFO when the directive gives none.
	m.SafeMinAck = 0
	m.vigilMinAck = 2
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("N from INFO: got %s", got)
	}
	// Off: Redis's order again.
	m.SafeMode = false
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 50, off: 1, runid: "c"})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("without safe mode priority wins: got %s", got)
	}
}
