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
