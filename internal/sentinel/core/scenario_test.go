package core

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Transcript: what a freshly started node asks the shell to do.

func TestTranscriptStartup(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2")
	acts := h.tickTo(100)
	var conns []Connect
	for _, a := range acts {
		if c, ok := a.(Connect); ok {
			conns = append(conns, c)
		}
	}
	if len(conns) != 2 || conns[0].Kind != LinkCommand || conns[1].Kind != LinkPubSub || conns[0].Addr != (Addr{"10.0.0.1", 6379}) {
		t.Fatalf("want cmd+pubsub connects to the master, got %+v", conns)
	}
	if conns[0].ClientName != "sentinel-11111111-cmd" || conns[1].ClientName != "sentinel-11111111-pubsub" {
		t.Fatalf("client names %q %q", conns[0].ClientName, conns[1].ClientName)
	}
	up := h.step(LinkUp{Link: conns[0].Link})
	if p := sends(up, PurposePing); len(p) != 1 || !reflect.DeepEqual(p[0].Cmds, [][]string{{"PING"}}) {
		t.Fatalf("want PING on link up, got %+v", up)
	}
	up = h.step(LinkUp{Link: conns[1].Link})
	if s := sends(up, PurposeSubscribe); len(s) != 1 || !reflect.DeepEqual(s[0].Cmds, [][]string{{"SUBSCRIBE", "__sentinel__:hello"}}) {
		t.Fatalf("want SUBSCRIBE, got %+v", up)
	}
	acts = h.tickTo(200)
	info := sends(acts, PurposeInfo)
	hello := sends(acts, PurposeHello)
	if len(info) != 1 || len(hello) != 1 {
		t.Fatalf("want INFO and hello PUBLISH on first tick with link, got %+v", acts)
	}
	want := []string{"PUBLISH", "__sentinel__:hello", "10.0.1.1,26379,1111111111111111111111111111111111111111,0,mymaster,10.0.0.1,6379,0"}
	if !reflect.DeepEqual(hello[0].Cmds[0], want) {
		t.Fatalf("hello = %q, want %q", hello[0].Cmds[0], want)
	}
	// INFO from the master reveals a replica: +slave and a PersistState first.
	acts = h.step(Reply{Link: info[0].Link, ID: info[0].ID, Value: Bulk(masterInfo + "slave0:ip=10.0.0.2,port=6379,state=online,offset=100,lag=0\r\n")})
	if _, ok := acts[0].(PersistState); !ok {
		t.Fatalf("first action must be PersistState, got %T", acts[0])
	}
	if p := pubs(acts, EvSlave); len(p) != 1 || p[0].Msg != "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379" {
		t.Fatalf("+slave = %+v", p)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "Subjectively Down": an instance is SDOWN when it does not
// give a valid reply to PING for down-after-milliseconds; a valid reply
// (+PONG, -LOADING, -MASTERDOWN) clears it.

func TestRuleSDownAfterDownAfterMilliseconds(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel down-after-milliseconds mymaster 5000")
	h.upAll(h.tickTo(100))
	acts := h.tickTo(5000)
	if len(pubs(acts, EvSDown)) != 0 {
		t.Fatalf("+sdown before down-after elapsed")
	}
	acts = h.tickTo(5100)
	if p := pubs(acts, EvSDown); len(p) != 1 || p[0].Msg != "master mymaster 10.0.0.1 6379" {
		t.Fatalf("want +sdown at 5100, got %+v", acts)
	}
	// -LOADING is a valid reply: SDOWN clears.
	pings := sends(h.acts, PurposePing)
	last := pings[len(pings)-1]
	h.step(Reply{Link: last.Link, ID: last.ID, Value: ErrorReply("LOADING Redis is loading the dataset in memory")})
	if acts = h.tickTo(5200); len(pubs(acts, EvSDownExit)) != 1 {
		t.Fatalf("want -sdown after -LOADING reply, got %+v", acts)
	}
	// An invalid reply (-ERR) does not count as available: the next PING
	// (sent at 6200, one ping period after the last reply) stays "active"
	// and SDOWN comes back once it is older than down-after.
	var at int64
	for at == 0 && h.now < 20000 {
		acts = h.tickTo(h.now + 100)
		if len(pubs(acts, EvSDown)) > 0 {
			at = h.now
		}
		for _, c := range sends(acts, PurposePing) {
			h.step(Reply{Link: c.Link, ID: c.ID, Value: ErrorReply("ERR nope")})
		}
	}
	if at != 11300 {
		t.Fatalf("+sdown with -ERR replies at %d, want 11300", at)
	}
}

// Sentinel docs: a master that reports itself as a replica for longer than
// down-after + 2*INFO period is considered SDOWN.
func TestRuleSDownMasterReportingSlave(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel down-after-milliseconds mymaster 1000")
	answerPings := func(acts []Action) {
		for _, c := range sends(acts, PurposePing) {
			h.step(Reply{Link: c.Link, ID: c.ID, Value: Status("PONG")})
		}
	}
	answerPings(h.upAll(h.tickTo(100)))
	acts := h.tickTo(200)
	answerPings(acts)
	info := sends(acts, PurposeInfo)[0]
	acts = h.step(Reply{Link: info.Link, ID: info.ID, Value: Bulk("role:slave\r\nmaster_host:10.0.0.9\r\nmaster_port:6379\r\nmaster_link_status:up\r\n")})
	if p := pubs(acts, EvRoleChangeBad); len(p) != 1 || !strings.HasSuffix(p[0].Msg, "new reported role is slave") {
		t.Fatalf("want -role-change, got %+v", acts)
	}
	for h.now < 21200 {
		answerPings(h.tickTo(h.now + 100))
	}
	if len(pubs(h.acts, EvSDown)) != 0 {
		t.Fatal("SDOWN too early")
	}
	for h.now < 21400 {
		answerPings(h.tickTo(h.now + 100))
	}
	if len(pubs(h.acts, EvSDown)) != 1 {
		t.Fatal("want SDOWN after down-after + 2*info-period of role:slave")
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "Objectively Down": ODOWN needs quorum sentinels (this one
// included) to agree the master is down, via is-master-down-by-addr replies.

func TestRuleODownNeedsQuorum(t *testing.T) {
	// One sentinel cannot reach the master; the others can: no ODOWN.
	w := newWorldCfg(t, 11, 3, 3, false, 1000, 3000, 1, Options{})
	w.record = true
	w.runUntil(3000)
	w.block = map[[2]int]bool{{0, 3}: true}
	w.breakAffected()
	w.runUntil(10000)
	if len(w.pick(EvSDown, 0, "master")) == 0 {
		t.Fatal("S0 should see the master SDOWN")
	}
	if n := len(w.pick(EvODown, -1, "")); n != 0 {
		t.Fatalf("no ODOWN expected with 1/2 agreement, got %d", n)
	}
	// Now the master dies for everyone: quorum reached.
	w.crashRedis(w.reds[0])
	w.runUntil(14000)
	od := w.pick(EvODown, -1, "")
	if len(od) == 0 || !strings.Contains(od[0].p.Msg, "#quorum ") || !strings.HasSuffix(od[0].p.Msg, "/2") {
		t.Fatalf("want +odown #quorum n/2, got %+v", od)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "Sentinels and voting": a sentinel votes at most once per
// epoch (first come, first served) and persists the vote before replying.

func TestRuleVoteOncePerEpoch(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2")
	A, B, C := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	check := func(epoch uint64, runid, wantLeader string, wantEpoch uint64, wantPersist bool) {
		t.Helper()
		_, l, e, p := h.n.HandleIsMasterDownByAddr("10.0.0.1", 6379, epoch, runid)
		if l != wantLeader || e != wantEpoch || p != wantPersist {
			t.Fatalf("vote(%d,%s) = %s,%d,%v want %s,%d,%v", epoch, runid[:1], l, e, p, wantLeader, wantEpoch, wantPersist)
		}
		acts := h.collect()
		if p {
			ps, ok := acts[0].(PersistState)
			if !ok {
				t.Fatal("PersistState must come first")
			}
			if !containsLine(ps.Lines, "sentinel leader-epoch mymaster "+itoa(int(wantEpoch))) {
				t.Fatalf("vote not persisted: %v", ps.Lines)
			}
		}
	}
	check(5, A, A, 5, true)
	check(5, B, A, 5, false) // same epoch: previous vote stands
	check(4, C, A, 5, false) // older epoch: no vote
	check(6, B, B, 6, true)  // newer epoch: new vote
	if e := h.n.State().CurrentEpoch; e != 6 {
		t.Fatalf("current epoch %d", e)
	}
	// The epoch is already current (learned from a hello): the vote alone
	// must still be persisted before the reply.
	h.step(Message{Channel: HelloChannel, Payload: "10.0.1.2,26379," + strings.Repeat("d", 40) + ",8,mymaster,10.0.0.1,6379,0"})
	check(8, C, C, 8, true)
	check(8, A, C, 8, false)
	h.step(Message{Channel: HelloChannel, Payload: "10.0.1.2,26379," + strings.Repeat("d", 40) + ",6,mymaster,10.0.0.1,6379,0"})
	// After a restart from the persisted lines the epoch is still taken.
	st, err := ParseConfig(h.n.State().ConfigLines())
	if err != nil {
		t.Fatal(err)
	}
	h.n = NewNode(st, h.n.opt, h.now)
	h.collect()
	check(8, B, "*", 8, false)
	// Unknown address: no vote, not down.
	if d, l, _, _ := h.n.HandleIsMasterDownByAddr("10.9.9.9", 1, 9, C); d != 0 || l != "*" {
		t.Fatalf("unknown master: %d %s", d, l)
	}
}

func containsLine(lines [][]string, s string) bool {
	for _, l := range lines {
		if strings.Join(l, " ") == s {
			return true
		}
	}
	return false
}

func itoa(i int) string   { return strconv.Itoa(i) }
func fmtInt(i int) string { return strconv.Itoa(i) }

// ---------------------------------------------------------------------------
// Sentinel docs, "Replica selection and priority": skip replicas that are
// down, disconnected, stale or with priority 0 or disconnected from the
// master for more than (down-after * 10) + time in SDOWN; then sort by
// priority (lower first), replication offset (higher first), run id.

func TestRuleReplicaSelectionOrder(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel down-after-milliseconds mymaster 1000")
	m := h.m()
	h.tickTo(50000)
	type rs struct {
		prio        int
		off         int64
		runid       string
		sdown, disc bool
		linkDown    int64
		staleInfo   bool
	}
	mk := func(specs ...rs) {
		m.replicas = nil
		for k, s := range specs {
			r := m.addReplica(Addr{"10.0.0." + fmtInt(10+k), 6379})
			r.slavePriority, r.replOffset, r.runid, r.sdown = s.prio, s.off, s.runid, s.sdown
			r.cmd.connected = !s.disc
			r.cmd.lastAvail = h.n.now
			r.infoRefresh = h.n.now
			if s.staleInfo {
				r.infoRefresh = h.n.now - 40000
			}
			r.masterLinkDownTime = s.linkDown
		}
	}
	pick := func() string {
		r := h.n.selectReplica(m)
		if r == nil {
			return ""
		}
		return r.addr.IP
	}
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 50, off: 1, runid: "c"}, rs{prio: 100, off: 20, runid: "a"})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("lowest priority wins: got %s", got)
	}
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 100, off: 20, runid: "z"})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("largest offset wins: got %s", got)
	}
	mk(rs{prio: 100, off: 10, runid: "b"}, rs{prio: 100, off: 10, runid: "a"}, rs{prio: 100, off: 10, runid: ""})
	if got := pick(); got != "10.0.0.11" {
		t.Fatalf("smallest runid wins: got %s", got)
	}
	mk(rs{prio: 0, off: 99}, rs{prio: 1, sdown: true}, rs{prio: 1, disc: true}, rs{prio: 1, staleInfo: true}, rs{prio: 1, linkDown: 1000000}, rs{prio: 200, off: 1})
	if got := pick(); got != "10.0.0.15" {
		t.Fatalf("only the last replica is eligible: got %s", got)
	}
	mk(rs{prio: 0})
	if got := pick(); got != "" {
		t.Fatalf("priority 0 is never promoted")
	}
	if err := h.n.Failover("mymaster"); err == nil || err.Error() != "NOGOODSLAVE No suitable replica to promote" {
		t.Fatalf("FAILOVER error = %v", err)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "parallel-syncs": at most parallel-syncs replicas are
// reconfigured at the same time after a failover.

func TestRuleParallelSyncs(t *testing.T) {
	for _, ps := range []int{1, 2} {
		w := newWorldCfg(t, 21, 3, 5, false, 1000, 20000, ps, Options{})
		w.record = true
		w.runUntil(3000)
		w.crashRedis(w.reds[0])
		w.runUntil(40000)
		end := w.pick(EvFailoverEnd, -1, "")
		if len(end) != 1 {
			t.Fatalf("ps=%d: want one +failover-end, got %d", ps, len(end))
		}
		leader := end[0].s
		inflight, max := 0, 0
		for _, e := range w.events {
			if e.s != leader {
				continue
			}
			switch e.p.Type {
			case EvSlaveReconfSent:
				inflight++
			case EvSlaveReconfDone, EvSlaveReconfSentTimeout:
				inflight--
			}
			if inflight > max {
				max = inflight
			}
		}
		if max != ps {
			t.Fatalf("parallel-syncs %d: max replicas reconfiguring at once = %d", ps, max)
		}
		if n := len(w.pick(EvSlaveReconfDone, leader, "")); n != 3 {
			t.Fatalf("want 3 +slave-reconf-done, got %d", n)
		}
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "failover-timeout": a promotion not confirmed within
// failover-timeout is aborted, and the same master is not failed over
// again by the same sentinel before 2*failover-timeout.

func TestRuleFailoverTimeout(t *testing.T) {
	w := newWorldCfg(t, 31, 3, 2, false, 1000, 4000, 1, Options{DisableTakeover: true})
	w.record = true
	w.reds[1].ignoreNoOne = true
	w.runUntil(3000)
	w.crashRedis(w.reds[0])
	w.runUntil(20000)
	ab := w.pick(EvAbortSlaveTimeout, -1, "")
	if len(ab) == 0 {
		t.Fatal("want -failover-abort-slave-timeout")
	}
	wp := w.pick(EvFailoverStateWaitPromo, ab[0].s, "")
	if d := ab[0].at - wp[0].at; d <= 4000 || d > 4300 {
		t.Fatalf("abort %d ms after wait_promotion, want just over failover-timeout", d)
	}
	tries := w.pick(EvTryFailover, ab[0].s, "")
	for k := 1; k < len(tries); k++ {
		if d := tries[k].at - tries[k-1].at; d < 8000 {
			t.Fatalf("retry after %d ms < 2*failover-timeout", d)
		}
	}
	if n := len(w.pick(EvPromotedSlave, -1, "")); n != 0 {
		t.Fatalf("nothing can be promoted, got %d", n)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "TILT mode": if the timer is called with a negative delta
// or more than 2 s late, enter TILT for 30 s: keep monitoring, take no
// action, answer is-master-down-by-addr with 0.

func TestRuleTilt(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 1", "sentinel down-after-milliseconds mymaster 1000")
	h.upAll(h.tickTo(100))
	h.tickTo(2000) // master never answers: SDOWN + ODOWN (quorum 1) → failover
	if len(pubs(h.acts, EvSDown)) != 1 {
		t.Fatal("setup: want +sdown")
	}
	h.acts = nil
	h.now += 2500 // the process was stuck for 2.5 s
	acts := h.step(Tick{Now: h.now})
	if p := pubs(acts, EvTilt); len(p) != 1 || p[0].Msg != "#tilt mode entered" {
		t.Fatalf("want +tilt, got %+v", acts)
	}
	if d, _, _, _ := h.n.HandleIsMasterDownByAddr("10.0.0.1", 6379, 0, "*"); d != 0 {
		t.Fatal("in TILT is-master-down-by-addr must reply 0")
	}
	acts = h.tickTo(h.now + 29000)
	if len(sends(acts, PurposePing)) == 0 {
		t.Fatal("monitoring (PING) must continue in TILT")
	}
	for _, typ := range []string{EvTryFailover, EvSDownExit, EvElectedLeader, EvODown} {
		if len(pubs(acts, typ)) != 0 {
			t.Fatalf("no %s during TILT", typ)
		}
	}
	acts = h.tickTo(h.now + 1100)
	if len(pubs(acts, EvTiltExit)) != 1 {
		t.Fatalf("want -tilt after 30 s, got %+v", acts)
	}
	// Clock going backwards also triggers TILT.
	h.now -= 50
	if acts = h.step(Tick{Now: h.now}); len(pubs(acts, EvTilt)) != 1 {
		t.Fatal("negative delta must enter TILT")
	}
}

// ---------------------------------------------------------------------------
// vigil rule (doc.go, "Leader death takeover"): when the elected leader dies
// before promoting, a follower that voted for it retries in a newer epoch
// after ~down-after instead of 2*failover-timeout; redis-compatible mode
// (DisableTakeover) waits the full 2*failover-timeout.

func TestRuleLeaderDeathTakeover(t *testing.T) {
	run := func(opts Options) (*world, int64) {
		w := newWorldCfg(t, 41, 3, 3, false, 1000, 60000, 1, opts)
		w.record = true
		var killAt int64
		w.onEvent = func(s *simSentinel, p Publish) {
			if p.Type == EvElectedLeader && killAt == 0 {
				killAt = w.now
				w.at(0, func() { w.crashSentinel(s) })
			}
		}
		w.runUntil(3000)
		w.crashRedis(w.reds[0])
		w.runUntil(40000)
		return w, killAt
	}
	w, killAt := run(Options{})
	if killAt == 0 {
		t.Fatal("no leader elected")
	}
	if len(w.pick(EvTakeover, -1, "")) == 0 {
		t.Fatal("want +vigil-takeover")
	}
	end := w.pick(EvFailoverEnd, -1, "")
	if len(end) == 0 || end[0].at-killAt > 10000 {
		t.Fatalf("failover should complete within 10 s of the leader's death, got %+v", end)
	}
	if promo := w.pick(EvPromotedSlave, -1, ""); len(promo) != 1 || promo[0].p.Epoch < 2 {
		t.Fatalf("exactly one promotion, in a newer epoch: %+v", promo)
	}
	w2, _ := run(Options{DisableTakeover: true})
	if n := len(w2.pick(EvFailoverEnd, -1, "")); n != 0 {
		t.Fatalf("redis-compatible mode must wait 2*failover-timeout, but %d failovers ended", n)
	}
}

// A late promotion by a deposed leader is superseded by the higher epoch:
// the old leader, on hearing the newer config, switches and the replica it
// promoted is converted back.
func TestRuleTakeoverSupersedesLatePromotion(t *testing.T) {
	w := newWorldCfg(t, 43, 3, 3, false, 1000, 60000, 1, Options{})
	w.record = true
	var leader *simSentinel
	w.onEvent = func(s *simSentinel, p Publish) {
		if p.Type == EvElectedLeader && leader == nil {
			leader = s
			w.at(0, func() { w.pauseSentinel(s, 12000) }) // frozen, then resumes
		}
	}
	w.runUntil(3000)
	w.crashRedis(w.reds[0])
	w.runUntil(30000)
	if leader == nil || len(w.pick(EvTakeover, -1, "")) == 0 {
		t.Fatal("want a takeover while the leader is frozen")
	}
	w.runUntil(60000)
	x, why := w.converged()
	if why != "" {
		t.Fatalf("not converged: %s", why)
	}
	if got, _ := leader.node.GetMasterAddrByName("mymaster"); got != x {
		t.Fatalf("old leader still on %v, others on %v", got, x)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs, "Configuration propagation": a hello carrying a greater
// config epoch for a master makes every sentinel switch to that address.

func TestRuleConfigPropagationViaHello(t *testing.T) {
	h := newHarness(t, "sentinel myid 1111111111111111111111111111111111111111",
		"sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel known-replica mymaster 10.0.0.2 6379",
		"sentinel known-replica mymaster 10.0.0.3 6379")
	h.tickTo(100)
	other := strings.Repeat("e", 40)
	acts := h.step(Message{Channel: HelloChannel, Payload: "10.0.1.2,26379," + other + ",7,mymaster,10.0.0.2,6379,7"})
	if _, ok := acts[0].(PersistState); !ok {
		t.Fatal("PersistState first")
	}
	var types []string
	for _, a := range acts {
		if p, ok := a.(Publish); ok {
			types = append(types, p.Type+" "+p.Msg)
		}
	}
	want := []string{
		"+sentinel sentinel " + other + " 10.0.1.2 26379 @ mymaster 10.0.0.1 6379",
		"+new-epoch 7",
		"+config-update-from sentinel " + other + " 10.0.1.2 26379 @ mymaster 10.0.0.1 6379",
		"+switch-master mymaster 10.0.0.1 6379 10.0.0.2 6379",
	}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("events:\n%q\nwant\n%q", types, want)
	}
	m := h.m()
	if m.addr != (Addr{"10.0.0.2", 6379}) || m.ConfigEpoch != 7 {
		t.Fatalf("master now %v epoch %d", m.addr, m.ConfigEpoch)
	}
	var reps []string
	for _, r := range m.replicas {
		reps = append(reps, r.name)
	}
	if !reflect.DeepEqual(reps, []string{"10.0.0.3:6379", "10.0.0.1:6379"}) {
		t.Fatalf("replicas = %v (old master must become a replica)", reps)
	}
	// An older or equal epoch does not move us.
	h.step(Message{Channel: HelloChannel, Payload: "10.0.1.2,26379," + other + ",7,mymaster,10.0.0.3,6379,6"})
	if m.addr != (Addr{"10.0.0.2", 6379}) {
		t.Fatal("stale config accepted")
	}
	// Same runid at a new address: -dup-sentinel then +sentinel.
	acts = h.step(Message{Channel: HelloChannel, Payload: "10.0.1.9,26379," + other + ",7,mymaster,10.0.0.2,6379,7"})
	if len(pubs(acts, EvDupSentinel)) != 1 || len(pubs(acts, EvSentinel)) != 1 || len(m.sentinels) != 1 {
		t.Fatalf("dup-sentinel handling: %+v", acts)
	}
}

// ---------------------------------------------------------------------------
// Sentinel docs: an old master that comes back reporting role:master is
// reconfigured as a replica of the current master (+convert-to-slave), and
// a replica replicating from the wrong master is fixed (+fix-slave-config).

func TestRuleOldMasterConversion(t *testing.T) {
	w := newWorldCfg(t, 51, 3, 3, false, 1000, 3000, 1, Options{})
	w.record = true
	w.runUntil(3000)
	old := w.reds[0]
	w.crashRedis(old)
	w.runUntil(15000)
	if len(w.pick(EvSwitchMaster, -1, "")) < 3 {
		t.Fatal("setup: failover did not complete")
	}
	w.restartRedis(old) // comes back as a master
	w.runUntil(35000)
	cv := w.pick(EvConvertToSlave, -1, "slave 10.0.0.1:6379")
	if len(cv) == 0 {
		t.Fatal("want +convert-to-slave for the old master")
	}
	if x, why := w.converged(); why != "" || old.master || old.masterAddr != x {
		t.Fatalf("old master not converted: %s", why)
	}
}

func TestRuleFixSlaveConfig(t *testing.T) {
	w := newWorldCfg(t, 53, 3, 3, false, 1000, 3000, 1, Options{})
	w.record = true
	w.runUntil(3000)
	r := w.reds[2]
	r.masterAddr = w.reds[1].addr // replicate from another replica
	r.linkUp = false
	w.runUntil(20000)
	if len(w.pick(EvFixSlaveConfig, -1, "slave 10.0.0.3:6379")) == 0 {
		t.Fatal("want +fix-slave-config")
	}
	if r.masterAddr != w.reds[0].addr {
		t.Fatalf("replica still points to %v", r.masterAddr)
	}
}

// pick returns recorded events of type typ from sentinel s (-1: any) whose
// message starts with prefix.
func (w *world) pick(typ string, s int, prefix string) []simRec {
	var out []simRec
	for _, e := range w.events {
		if e.p.Type == typ && (s < 0 || e.s == s) && strings.HasPrefix(e.p.Msg, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// A seed must replay identically (the failing seed printed by
// TestSimulation reproduces), with or without tracing.
func TestSimulationDeterministic(t *testing.T) {
	for _, seed := range []int64{3, 42, 107411, 2675} {
		r1, l1 := runSchedule(t, seed, true)
		r2, l2 := runSchedule(t, seed, true)
		r3, _ := runSchedule(t, seed, false)
		if !reflect.DeepEqual(l1, l2) || r1 != r2 || r1 != r3 {
			t.Fatalf("seed %d is not deterministic: %+v %+v %+v", seed, r1, r2, r3)
		}
		if len(l1) == 0 {
			t.Fatal("empty trace")
		}
	}
}
