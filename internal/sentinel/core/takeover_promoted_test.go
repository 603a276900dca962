package core

import (
	"strings"
	"testing"
)

// vigil rule (doc.go, "Leader death takeover", condition 3 and (e)): the
// elected leader promotes a replica and dies before any hello carries the
// new configuration. The followers take over after ~down-after (not
// 2*failover-timeout) and the new leader promotes the same replica again:
// it may already have acknowledged writes.
func TestRuleTakeoverAfterPromotionKeepsPromotedReplica(t *testing.T) {
	for _, seed := range []int64{51, 52, 53, 54, 55} {
		w := newWorldCfg(t, seed, 3, 3, false, 1000, 60000, 1, Options{})
		w.record = true
		var killAt int64
		w.onEvent = func(s *simSentinel, p Publish) {
			if p.Type == EvPromotedSlave && killAt == 0 {
				killAt = w.now
				w.at(0, func() { w.crashSentinel(s) })
			}
		}
		w.runUntil(3000)
		w.crashRedis(w.reds[0])
		w.runUntil(40000)
		if killAt == 0 {
			t.Fatalf("seed %d: no promotion", seed)
		}
		promo := w.pick(EvPromotedSlave, -1, "")
		if len(promo) == 0 {
			t.Fatalf("seed %d: no promotion", seed)
		}
		first := strings.Fields(promo[0].p.Msg)[1]
		x, why := w.converged()
		if why != "" {
			t.Fatalf("seed %d: not converged: %s", seed, why)
		}
		if x.String() != first {
			t.Fatalf("seed %d: converged on %v, but the dead leader had promoted %s", seed, x, first)
		}
		if len(w.pick(EvTakeover, -1, "")) > 0 {
			end := w.pick(EvFailoverEnd, -1, "")
			if len(end) == 0 || end[len(end)-1].at-killAt > 10000 {
				t.Fatalf("seed %d: takeover failover should end within 10 s of the leader's death: %+v", seed, end)
			}
			for _, p := range promo[1:] {
				if f := strings.Fields(p.p.Msg)[1]; f != first {
					t.Fatalf("seed %d: takeover promoted %s, the dead leader %s", seed, f, first)
				}
			}
		} else {
			t.Logf("seed %d: the configuration reached the followers before the leader died", seed)
		}
	}
}

// Safe mode (chaos seed 20120, docs/reliability.md "Randomized runs"): the
// leader sends SLAVEOF NO ONE and dies before any hello carries the
// promotion. The promoted replica now reports role:master; the next leaders
// must count it (its master_replid2 is the failed master's history) and
// promote it again, not refuse forever for want of reachable replicas.
func TestRuleSafeTakeoverAfterPromotion(t *testing.T) {
	for _, seed := range []int64{61, 62, 63, 64, 65, 66} {
		w := newWorldCfg(t, seed, 3, 3, false, 2000, 4000, 1, Options{})
		w.record = true
		w.enableSafe(1)
		w.trace = true
		fail := func(format string, a ...any) {
			for _, l := range w.log {
				t.Log(l)
			}
			t.Fatalf(format, a...)
		}
		killed := false
		w.onNoOne = func(r *simRedis, s *simSentinel) {
			if s != nil && !killed {
				killed = true
				// The leader dies before the promoted replica's INFO
				// reply (pipelined behind SLAVEOF NO ONE) reaches it.
				w.crashSentinel(s)
			}
		}
		w.runUntil(3000)
		old := w.reds[0]
		w.crashRedis(old)
		w.runUntil(12000)
		if !killed {
			fail("seed %d: no failover started", seed)
		}
		var promoted *simRedis
		for _, r := range w.reds[1:] {
			if r.master {
				promoted = r
			}
		}
		if promoted == nil {
			fail("seed %d: the dead leader's SLAVEOF NO ONE did not arrive", seed)
		}
		w.restartRedis(old)
		x, ok := w.waitConverged(60000, "after the leader died mid-promotion")
		if !ok {
			fail("seed %d: %s", seed, w.failure)
		}
		if x != promoted.addr {
			fail("seed %d: converged on %v, but the dead leader had promoted %v", seed, x, promoted.addr)
		}
		w.runUntil(w.now + 10000)
		if x, ok = w.waitConverged(30000, "after writes"); ok {
			w.checkAcked(x)
		}
		if w.failure != "" {
			fail("seed %d: %s", seed, w.failure)
		}
		if w.safe.ackedN == 0 {
			fail("seed %d: no write acknowledged", seed)
		}
	}
}
