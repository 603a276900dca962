package core

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vigil safe mode in the simulation.
//
// The simulated data nodes model the master-side rules of
// docs/reliability.md ("Safe mode"): a write batch is acknowledged only once
// N replicas hold it; a master refuses writes while fewer than N replicas
// acknowledged within the fence timeout, while fewer than a majority of the
// Sentinels sent it a command within the fence timeout, or while a hello
// names another master with a newer config epoch than any naming it; and a
// master that restarted, resumed from a pause, lost its Sentinel majority
// or saw a Sentinel's current epoch rise (the epoch rule, below) is
// unconfirmed (refuses writes, acknowledges nothing) until
// vigil-confirm-timeout has passed and N replicas and a Sentinel majority
// have been heard from since. The Sentinels run with "sentinel
// vigil-safe-mode mymaster yes N".
//
// Each data node's dataset is a persistent linked list of write batches
// (simLog), so a replica that syncs shares its master's history and a
// divergent history is a different list. Every acknowledged batch is
// recorded; whenever the Sentinels converge, the agreed master's history
// must contain all of them: no acknowledged write is ever lost, whatever
// the faults (crashes, pauses, partitions, one-way link failures, lost
// messages, Sentinel restarts, leaders dying mid-failover).
//
// What it found (replay with -seed=N, and -safesim.old for the old master
// rules; the one-way failures and the Sentinels' early hellos changed the
// schedules, so seeds 136, 158 and 1395 no longer reproduce theirs):
//   - seed 48 (old rules): the master paused, the leader promoted a replica
//     and paused before re-pointing the third node; the old master resumed,
//     confirmed itself after one fence timeout (that node still followed it
//     and ACKed, a Sentinel majority PINGed it) and acknowledged writes the
//     re-point then discarded. Seed 136: the same after a partition healed
//     instead of a pause. Fix: losing the Sentinel majority makes a master
//     unconfirmed too, and confirming takes vigil-confirm-timeout, which
//     covers the Sentinels' failover-timeout.
//   - seed 158: the failover leader's +fix-slave-config sent a replica it
//     had just re-pointed back to the old master: the core did not reset
//     slave_conf_change_time when a replica's master address changed
//     (Redis does). Also: a Sentinel leaving TILT resumed a stale failover
//     and promoted a replica next to a live, writing master; in safe mode
//     the leader now waits while the master is not down.
//   - seed 1395: an old master that came back (role:master, offset not
//     tracked) was counted as a reachable replica by the promotion rule.
//   - with one-way link failures (randomOneWay below), 18 of the first
//     5,000 schedules lost acknowledged writes (seeds 48, 314, 716, 846,
//     1359, 1842, 1956, 2033, 2439, 2697, 2854, 3464, 3623, 3640, 3796,
//     3963, 4440, 4694; replay with -safesim.noepoch): the master's
//     messages to the Sentinels were lost while it still heard them. They
//     kept PINGing it (Sentinel drops a link without replies only once it
//     is 15 s old), so it was never fenced, its replicas kept ACKing, and
//     they failed it over; writes it acknowledged through a replica not
//     yet re-pointed were lost. Fix (the epoch rule): a safe-mode Sentinel
//     that starts a failover or votes in a new epoch sends the master a
//     hello at once (core/safemode.go, safeAnnounceEpoch); a master that
//     sees a Sentinel's current epoch rise above the config epoch naming it
//     becomes unconfirmed, and an unconfirmed master acknowledges nothing
//     (replication/safemode.go, sentinelEpochRose). The leader needs a
//     majority of votes and the master a majority of Sentinels talking to
//     it, so at least one voter's hello reaches it, a round trip before
//     the promotion.
//   - seed 107087 (symmetric faults only; replay with -safesim.oneway=false
//     -safesim.noepoch): a write executed just before a partition cut the
//     master off was acknowledged 1.3 s later, when a replica came back,
//     although the master had lost its Sentinel majority (unconfirmed)
//     meanwhile; the promoted replica did not have it. Fix: an unconfirmed
//     master acknowledges nothing (its pending writes get the timeout
//     error), part of the epoch rule's flag.
//   - seed 106877 (not fixed, docs/reliability.md "What is not covered"):
//     the master's messages to the three Sentinels lost, then a partition
//     cut two of them off 1.1 s (< the fence timeout) before the
//     promotion: it still counted them as heard and none could send it the
//     early hello.
//   - seed 106332 (not fixed, same section): the leader froze 8.1 s right
//     after promoting (longer than the 8 s confirm timeout) while the old
//     master restarted; nobody else knew of the promotion, the old master
//     confirmed itself and its replicas, not yet re-pointed, acknowledged
//     its writes.
//   - chaos seed 20120 (real processes, test/chaos): the leader sent
//     SLAVEOF NO ONE and died before any hello announced the promotion;
//     the next safe-mode leaders did not count the promoted replica (it
//     reports role:master) and refused forever. The data nodes here had no
//     replication IDs, so no schedule could tell that replica from an old
//     master that came back. Fix: they carry PSYNC2 IDs (replid, replid2),
//     and a replica reporting role:master whose master_replid2 is the
//     failed master's history counts and is selected again
//     (core/safemode.go, continuesHistory; TestRuleSafeTakeoverAfterPromotion).
//   - seed 104073 (liveness, not investigated further): no convergence; a
//     Sentinel with a stale configuration converted the master of epoch 1
//     into a replica while every other node reported role:master, and the
//     safe-mode leader never finds a reachable replica.

// simLog is one write batch; prev is the history before it.
type simLog struct {
	prev *simLog
	off  int64
	at   int64 // when the master executed it
}

// contains reports whether batch a is in the history ending at h.
func (h *simLog) contains(a *simLog) bool {
	for x := h; x != nil && x.off >= a.off; x = x.prev {
		if x == a {
			return true
		}
	}
	return false
}

type simSafe struct {
	n     int   // replicas that must hold a write before it is acknowledged
	fence int64 // vigil-fence-timeout, ms
	// confirmWait: how long an unconfirmed master waits before it may
	// confirm itself (vigil-confirm-timeout); stickyB: losing the Sentinel
	// majority makes a master unconfirmed. With confirmWait equal to the
	// fence timeout and no stickiness (the rules before this model
	// existed), 80 of the first 1,000 schedules lost acknowledged writes:
	// a master that came back (resumed, restarted, or heard from the
	// Sentinels again after a partition) confirmed itself while the
	// Sentinels were still failing it over, and a replica not yet
	// re-pointed acknowledged its writes.
	confirmWait int64
	stickyB     bool
	// epochRule: a rise of a Sentinel's current epoch in its hellos makes
	// the master unconfirmed, and an unconfirmed master acknowledges
	// nothing (pending writes time out). Without it, one-way failures
	// (the Sentinels don't hear the master, it hears them) lose
	// acknowledged writes.
	epochRule     bool
	epochTriggers int
	acked         []*simLog
	ackedN        int
	writes        int
}

type simRedisSafe struct {
	log              *simLog
	heard            map[int]int64 // sentinel endpoint -> last command received
	ackTo            Addr          // master this replica last acknowledged
	lastAck          int64
	unconfirmedSince int64 // 0: confirmed
	helloSelf        uint64
	helloOther       uint64
	helloSelfSeen    bool           // a hello named this node (since its promotion)
	helloCur         map[int]uint64 // sentinel endpoint -> current epoch of its last hello
	lastWhy          string         // trace: why the master refused writes last tick
	lastAcked        *simLog        // trace: newest batch acknowledged
}

// enableSafe turns on safe mode with N = n on the data nodes and Sentinels.
func (w *world) enableSafe(n int) {
	if n < 1 {
		n = 1
	}
	// vigil-fence-timeout below down-after; vigil-confirm-timeout at the
	// Sentinels' failover-timeout + two hello periods, as documented.
	w.safe = &simSafe{n: n, fence: w.downAfter * 3 / 4, confirmWait: w.foTimeout + 2*2000, stickyB: true, epochRule: !*flagSafeSimNoEpoch}
	if *flagSafeSimOld {
		// The master-side rules before this simulation existed.
		w.safe.confirmWait, w.safe.stickyB, w.safe.epochRule = w.safe.fence, false, false
	}
	line := []string{"sentinel", "vigil-safe-mode", w.masterName, "yes", strconv.Itoa(n)}
	for _, s := range w.sents {
		s.persisted = append(s.persisted, line)
		if msg := s.node.State().applySafeMode(line[1:]); msg != "" {
			w.fail("vigil-safe-mode: %s", msg)
		}
	}
}

// safeOnCommand sees every command a data node executes from a Sentinel.
func (w *world) safeOnCommand(r *simRedis, l *simLink, cmd []string) {
	rs := &r.safe
	if l.owner != nil && l.target >= len(w.sents) {
		if rs.heard == nil {
			rs.heard = map[int]int64{}
		}
		rs.heard[l.owner.ep] = w.now
	}
	switch strings.ToUpper(cmd[0]) {
	case "PUBLISH":
		if len(cmd) == 3 && cmd[1] == HelloChannel {
			f := strings.Split(cmd[2], ",")
			if len(f) == 8 {
				port, _ := strconv.Atoi(f[6])
				ep, _ := strconv.ParseUint(f[7], 10, 64)
				if (Addr{f[5], port}) == r.addr {
					rs.helloSelf = max(rs.helloSelf, ep)
					rs.helloSelfSeen = true
				} else {
					rs.helloOther = max(rs.helloOther, ep)
				}
				if l.owner != nil && w.safe.epochRule {
					w.safeEpochRule(r, l.owner.ep, f[3])
				}
			}
		}
	case "SLAVEOF", "REPLICAOF":
		if strings.EqualFold(cmd[1], "NO") && !r.ignoreNoOne {
			// A promotion confirms the new master.
			rs.unconfirmedSince, rs.helloSelf, rs.helloOther = 0, 0, 0
			rs.helloCur, rs.helloSelfSeen = nil, false
		}
	}
}

// safeEpochRule: a master that sees a Sentinel's current epoch (hello
// field 3) rise above its previous hello's and above the config epoch of
// the hellos naming the master becomes unconfirmed: an election for it may
// be under way (replication/safemode.go, sentinelEpochRose). Only once a
// hello named it: a newly promoted master may first hear a Sentinel catch
// up with the epoch of its own promotion.
func (w *world) safeEpochRule(r *simRedis, sentinel int, field string) {
	rs := &r.safe
	cur, _ := strconv.ParseUint(field, 10, 64)
	if rs.helloCur == nil {
		rs.helloCur = map[int]uint64{}
	}
	prev, seen := rs.helloCur[sentinel]
	rs.helloCur[sentinel] = cur
	if r.master && seen && cur > prev && rs.helloSelfSeen && cur > rs.helloSelf {
		if rs.unconfirmedSince == 0 {
			w.logf("R%d unconfirmed: S%d's current epoch rose to %d", r.ep, sentinel, cur)
			w.safe.epochTriggers++
		}
		rs.unconfirmedSince = w.now
	}
}

// safeCanWrite applies the fencing and confirmation rules to master m.
func (w *world) safeCanWrite(m *simRedis) bool {
	why := w.safeDenied(m)
	if w.trace && why != m.safe.lastWhy {
		if why == "" {
			w.logf("R%d accepts writes", m.ep)
		} else {
			w.logf("R%d refuses writes: %s", m.ep, why)
		}
	}
	m.safe.lastWhy = why
	return why == ""
}

// safeDenied returns why master m refuses writes now, or "".
func (w *world) safeDenied(m *simRedis) string {
	sf, ms := w.safe, &m.safe
	if ms.helloOther > ms.helloSelf {
		return "hello names a newer master"
	}
	// Evidence must be fresh (within the fence timeout) and, for an
	// unconfirmed master, gathered since it became unconfirmed.
	since := max(w.now-sf.fence, ms.unconfirmedSince)
	heard := 0
	for ep, t := range ms.heard {
		if ep < len(w.sents) && t >= since {
			heard++
		}
	}
	if heard < len(w.sents)/2+1 {
		if sf.stickyB {
			ms.unconfirmedSince = w.now
		}
		return "Sentinel majority lost"
	}
	acks := 0
	for _, r := range w.reds {
		if r != m && r.alive && !r.master && r.linkUp && r.masterAddr == m.addr && r.safe.ackTo == m.addr && r.safe.lastAck >= since {
			acks++
		}
	}
	if acks < sf.n {
		return "too few replica ACKs"
	}
	if ms.unconfirmedSince != 0 {
		if w.now-ms.unconfirmedSince < sf.confirmWait {
			return "unconfirmed"
		}
		ms.unconfirmedSince = 0
	}
	return ""
}

// safeWrite is one write batch on master m.
func (w *world) safeWrite(m *simRedis) {
	m.offset += 1 + w.rnd.Int64N(1000)
	m.safe.log = &simLog{prev: m.safe.log, off: m.offset, at: w.now}
	w.safe.writes++
}

// safeCopy: replica r, linked to m, holds m's history (if the stream
// flows) and acknowledges what it holds (if its ACKs reach m).
func (w *world) safeCopy(r, m *simRedis, stream, ack bool) {
	if stream {
		r.safe.log = m.safe.log
	}
	if ack {
		r.safe.ackTo, r.safe.lastAck = m.addr, w.now
	}
}

// safeRecordAcks records, per master, the newest batch held by N replicas
// that acknowledged it in this tick.
func (w *world) safeRecordAcks() {
	sf := w.safe
	for _, m := range w.reds {
		if !m.alive || !m.master || m.safe.log == nil {
			continue
		}
		if sf.epochRule && m.safe.unconfirmedSince != 0 {
			continue // pending writes get errors
		}
		var held []*simLog
		for _, r := range w.reds {
			if r != m && r.alive && !r.master && r.linkUp && r.masterAddr == m.addr && r.safe.ackTo == m.addr && r.safe.lastAck == w.now && r.safe.log != nil {
				held = append(held, r.safe.log)
			}
		}
		if len(held) < sf.n {
			continue
		}
		sort.Slice(held, func(i, j int) bool { return held[i].off > held[j].off })
		// A client waits for its write's acknowledgement at most the
		// fence timeout, then gets an error: older batches held now were
		// never acknowledged, but the newest batch that was written within
		// the window and is held by N replicas acknowledges everything
		// before it too.
		if a := held[sf.n-1]; w.now-a.at <= sf.fence {
			if w.trace && a != m.safe.lastAcked {
				w.logf("R%d acknowledged up to %d (written at %d)", m.ep, a.off, a.at)
			}
			m.safe.lastAcked = a
			w.recordAck(a)
		}
	}
}

// recordAck keeps the maximal acknowledged batches (one per divergent
// history).
func (w *world) recordAck(a *simLog) {
	sf := w.safe
	keep := sf.acked[:0]
	for _, b := range sf.acked {
		if a.contains(b) {
			continue // superseded by a
		}
		if b.contains(a) {
			return // already covered
		}
		keep = append(keep, b)
	}
	sf.acked = append(keep, a)
	sf.ackedN++
}

// checkAcked fails the run if the agreed master x lost an acknowledged batch.
func (w *world) checkAcked(x Addr) {
	m := w.redisByAddr(x)
	if m == nil {
		return
	}
	for _, a := range w.safe.acked {
		if !m.safe.log.contains(a) {
			have := int64(0)
			if m.safe.log != nil {
				have = m.safe.log.off
			}
			w.fail("safe mode: acknowledged write at offset %d lost: master %v has history up to %d without it", a.off, x, have)
			return
		}
	}
	if len(w.safe.acked) > 1 {
		w.fail("safe mode: %d divergent acknowledged histories", len(w.safe.acked))
	}
}

// TestSimulationSafeMode runs the seeded schedules of TestSimulation with
// safe mode modelled (N random in 1..replicas): every invariant of
// TestSimulation, plus no acknowledged write lost at any convergence.
// Replay one seed with: go test -run TestSimulationSafeMode -seed=N -v
var flagSafeSimSurvey = flag.Bool("safesim.survey", false, "run every schedule and list the failing seeds instead of stopping at the first")

var flagSafeSimNoEpoch = flag.Bool("safesim.noepoch", false, "model the master-side rules without the epoch rule (a Sentinel's rising current epoch unconfirms the master; unconfirmed masters acknowledge nothing): one-way failures lose acknowledged writes")

var flagSafeSimOld = flag.Bool("safesim.old", false, "model the master-side safe-mode rules before the simulation (confirm after the fence timeout, no stickiness): they lose acknowledged writes")

func TestSimulationSafeMode(t *testing.T) {
	safeN := func(seed int64) int { return 1 + int(seed%2) }
	if *flagSeed >= 0 {
		res, log := runScheduleSafe(t, *flagSeed, true, safeN(*flagSeed))
		for _, l := range log {
			t.Log(l)
		}
		if res.failure != "" {
			t.Fatalf("seed %d: %s", *flagSeed, res.failure)
		}
		t.Logf("seed %d ok: %+v", *flagSeed, res)
		return
	}
	n := *flagSchedules / 5
	if testing.Short() && n > 400 {
		n = 400
	}
	start := time.Now()
	var tot simResult
	var failed []int64
	for i := 0; i < n; i++ {
		seed := *flagSimBase + int64(i)
		res, _ := runScheduleSafe(t, seed, false, safeN(seed))
		if res.epochRule > 0 && *flagSafeSimSurvey {
			t.Logf("seed %d: %d epoch-rule unconfirms", seed, res.epochRule)
		}
		if res.failure != "" && *flagSafeSimSurvey {
			failed = append(failed, seed)
			t.Logf("seed %d: %s", seed, res.failure)
			continue
		}
		if res.failure != "" {
			t.Fatalf("seed %d failed: %s\nreplay: go test ./internal/sentinel/core -run TestSimulationSafeMode -seed=%d -v", seed, res.failure, seed)
		}
		tot.failovers += res.failovers
		tot.acked += res.acked
		tot.writes += res.writes
		tot.epochRule += res.epochRule
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d schedules failed: seeds %v", len(failed), n, failed)
	}
	if tot.acked == 0 || tot.failovers == 0 {
		t.Fatalf("vacuous run: %d acknowledgements, %d failovers", tot.acked, tot.failovers)
	}
	t.Logf("%d safe-mode schedules in %v: %d write batches, %d acknowledgement checks, %d failovers completed, %d epoch-rule unconfirms, 0 acknowledged writes lost",
		n, time.Since(start).Round(time.Millisecond), tot.writes, tot.acked, tot.failovers, tot.epochRule)
}

// ---------------------------------------------------------------------------
// one-way (directed) link failures

var flagSafeSimOneWay = flag.Bool("safesim.oneway", true, "add one-way link failures to the safe-mode schedules (false: the schedules before they existed)")

// simCut counts the one-way failures active on a directed pair; tcp of
// them also make new connections across the pair fail (a lost SYN or
// SYN-ACK), the others model a proxy that accepts connections but stalls
// one direction.
type simCut struct{ n, tcp int }

// cutOff reports whether messages from endpoint a to endpoint b are lost.
func (w *world) cutOff(a, b int) bool {
	return w.cut != nil && w.cut[[2]int{a, b}].n > 0
}

// cutConnect reports whether a new connection between a and b fails.
func (w *world) cutConnect(a, b int) bool {
	return w.cut != nil && (w.cut[[2]int{a, b}].tcp > 0 || w.cut[[2]int{b, a}].tcp > 0)
}

func (w *world) addCut(pairs [][2]int, tcp bool, d int) {
	if w.cut == nil {
		w.cut = map[[2]int]simCut{}
	}
	for _, p := range pairs {
		c := w.cut[p]
		c.n += d
		if tcp {
			c.tcp += d
		}
		if c.n <= 0 {
			delete(w.cut, p)
			continue
		}
		w.cut[p] = c
	}
}

// randomOneWay schedules one-way link failures in [start, end). They are
// drawn from their own random stream, so the rest of a seed's schedule is
// drawn as before, and a third of the seeds get none (those run exactly as
// before one-way failures existed; -safesim.oneway=false turns them off).
// Established links are not broken: the cut direction stalls (its commands,
// replies, pub/sub messages, replication stream or ACKs are lost) until the
// failure ends or the owner gives up on the link.
func (w *world) randomOneWay(seed, start, end int64) {
	or := rand.New(rand.NewPCG(uint64(seed), 0x0e1a7))
	if or.IntN(3) == 0 {
		return
	}
	gen := w.faultGen
	for k, n := 0, 1+or.IntN(3); k < n; k++ {
		at := start + or.Int64N(end-start)
		dur := 300 + or.Int64N(5000)
		kind, tcp, pick := or.IntN(6), or.IntN(2) == 0, or.Uint64()
		w.at(at-w.now, func() {
			if w.faultGen != gen {
				return
			}
			pairs, what := w.oneWayPairs(kind, rand.New(rand.NewPCG(pick, 1)))
			w.logf("one-way %s for %d ms (tcp=%v): %v", what, dur, tcp, pairs)
			w.addCut(pairs, tcp, 1)
			w.at(dur, func() {
				if w.faultGen == gen {
					w.logf("one-way %s healed", what)
					w.addCut(pairs, tcp, -1)
				}
			})
		})
	}
}

// oneWayPairs draws the directed pairs of one failure of the given kind,
// mostly around the current master.
func (w *world) oneWayPairs(kind int, r *rand.Rand) ([][2]int, string) {
	var masters []*simRedis
	for _, x := range w.reds {
		if x.alive && x.master {
			masters = append(masters, x)
		}
	}
	x := w.reds[r.IntN(len(w.reds))]
	if len(masters) > 0 && r.IntN(4) != 0 {
		x = masters[r.IntN(len(masters))]
	}
	var others []*simRedis
	for _, o := range w.reds {
		if o != x {
			others = append(others, o)
		}
	}
	y := others[r.IntN(len(others))]
	// sents: every Sentinel, or a random non-empty subset.
	var sents []int
	all := r.IntN(2) == 0
	for _, s := range w.sents {
		if all || r.IntN(2) == 0 {
			sents = append(sents, s.ep)
		}
	}
	if len(sents) == 0 {
		sents = append(sents, w.sents[r.IntN(len(w.sents))].ep)
	}
	var p [][2]int
	switch kind {
	case 0:
		for _, s := range sents {
			p = append(p, [2]int{x.ep, s})
		}
		return p, fmt.Sprintf("R%d -> sentinels %v (they don't hear it, it hears them)", x.ep, sents)
	case 1:
		for _, s := range sents {
			p = append(p, [2]int{s, x.ep})
		}
		return p, fmt.Sprintf("sentinels %v -> R%d", sents, x.ep)
	case 2:
		return [][2]int{{y.ep, x.ep}}, fmt.Sprintf("R%d -> R%d (ACKs lost)", y.ep, x.ep)
	case 3:
		return [][2]int{{x.ep, y.ep}}, fmt.Sprintf("R%d -> R%d (stream stalls)", x.ep, y.ep)
	case 4:
		// One-way partition: side 0 can't reach side 1, side 1 reaches side 0.
		side := make([]int, len(w.group))
		for i := range side {
			side[i] = r.IntN(2)
		}
		for a := range side {
			for b := range side {
				if side[a] == 0 && side[b] == 1 {
					p = append(p, [2]int{a, b})
				}
			}
		}
		return p, fmt.Sprintf("partition %v: side 0 -> side 1", side)
	default:
		for ep := range w.group {
			if ep != x.ep {
				p = append(p, [2]int{x.ep, ep})
			}
		}
		return p, fmt.Sprintf("R%d -> everyone (it only receives)", x.ep)
	}
}
