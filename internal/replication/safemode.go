package replication

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// Safe mode (docs/reliability.md): semi-synchronous acknowledgement,
// fencing and restart safety on the master. Opt-in with vigil-safe-mode
// yes; with it off nothing here changes behaviour.
//
//   - Ack gate: the replies of a batch that wrote are released only once
//     vigil-min-ack-replicas replicas acknowledged an offset >= the stream
//     offset after the batch (server/fence.go holds the replies, without the
//     lock). After vigil-fence-timeout the write replies become
//     -NOREPLICAS ... (the write may still exist).
//   - Fence: a master refuses writes when fewer than N replicas ACKed within
//     the fence timeout, when fewer than a majority of the Sentinels it has
//     seen talked to it within the fence timeout, or when a Sentinel's hello
//     names another master with a newer config epoch than any naming us.
//   - Restart/resume: after start-up, after a gap in our own cron ticks
//     (SIGSTOP, VM pause), or after losing the Sentinel majority (the
//     Sentinels may have started failing us over meanwhile), the master is
//     unconfirmed: writes are refused for vigil-confirm-timeout (which must
//     cover the Sentinels' failover-timeout: a failover in flight either
//     completes, and its hellos fence us, or is aborted) and until the
//     fence conditions hold
//     on evidence gathered after the resume, and at least one fence timeout
//     has passed.

const defaultFenceTimeout = 2000 * time.Millisecond

// defaultConfirmTimeout covers a Sentinel failover-timeout of 60 s (vigil's
// topologies' and the tutorial's) plus two hello periods.
const defaultConfirmTimeout = 64000 * time.Millisecond

type sentinelSeen struct {
	last    time.Time
	helloAt time.Time
	helloMe bool
	helloEp uint64
	// curEp: the current epoch of this Sentinel's last hello (curSeen:
	// received since our last REPLICAOF), for sentinelEpochRose.
	curEp   uint64
	curSeen bool
}

type safeWaiter struct {
	c      *server.Client
	target int64
	ch     chan struct{}
	// acked: ch was closed because the target was acknowledged; fail: it
	// was closed because the master stopped being confirmed first.
	acked bool
	fail  string
}

type safeState struct {
	on         atomic.Bool
	minAck     int
	fence      time.Duration
	confirm    time.Duration // vigil-confirm-timeout (>= fence)
	waiters    []*safeWaiter
	lastGetack int64
	lastCron   time.Time
	// resumeAt: start-up or the end of a pause; confirmed once the fence
	// conditions held on evidence newer than it.
	resumeAt  time.Time
	confirmed bool
	roleAt    time.Time // last REPLICAOF / SLAVEOF received
	sentinels map[string]*sentinelSeen
	lastDeny  string
}

func (st *State) safe() *safeState {
	return st.sm
}

// installSafe wires the config (called from Install through the hook).
func installSafe(st *State) {
	s := st.srv
	sm := &safeState{sentinels: map[string]*sentinelSeen{}, resumeAt: time.Now(), lastCron: time.Now()}
	st.sm = sm
	reload := func() {
		sm.on.Store(s.Cfg.Bool("vigil-safe-mode"))
		sm.minAck = int(s.Cfg.Int("vigil-min-ack-replicas"))
		sm.fence = time.Duration(s.Cfg.Int("vigil-fence-timeout")) * time.Millisecond
		if sm.fence <= 0 {
			sm.fence = defaultFenceTimeout
		}
		sm.confirm = time.Duration(s.Cfg.Int("vigil-confirm-timeout")) * time.Millisecond
		if sm.confirm <= 0 {
			sm.confirm = defaultConfirmTimeout
		}
		if sm.confirm < sm.fence {
			sm.confirm = sm.fence
		}
	}
	reload()
	for _, n := range []string{"vigil-safe-mode", "vigil-min-ack-replicas", "vigil-fence-timeout", "vigil-confirm-timeout"} {
		s.Cfg.OnChange(n, func(old, new string) error { reload(); return nil })
	}
}

func init() {
	server.Safe = safeGate{}
	SafeModeDeny = safeDeny
	server.CronHooks = append(server.CronHooks, safeCron)
	SafeInfo = safeInfo
}

type safeGate struct{}

func (safeGate) On(s *server.Server) bool {
	st := Of(s)
	return st != nil && st.sm != nil && st.sm.on.Load()
}

func (safeGate) Offset(s *server.Server) int64 { return Of(s).offset }

func (safeGate) Observe(s *server.Server, c *server.Client, args [][]byte) {
	st := Of(s)
	sm := st.sm
	name := c.Name()
	if strings.HasPrefix(name, "sentinel-") && len(name) >= 17 {
		id := strings.ToLower(name[9:17])
		se := sm.sentinel(id)
		se.last = time.Now()
		if len(args) == 3 && commands.EqualFold(args[0], "publish") && string(args[1]) == "__sentinel__:hello" {
			// ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch
			f := strings.Split(string(args[2]), ",")
			if len(f) == 8 {
				port, _ := strconv.Atoi(f[6])
				ep, _ := strconv.ParseUint(f[7], 10, 64)
				se.helloAt = time.Now()
				se.helloMe = st.isMe(c, f[5], port)
				se.helloEp = ep
				cur, _ := strconv.ParseUint(f[3], 10, 64)
				st.sentinelEpochRose(se, cur, se.helloAt)
			}
		}
	}
	if len(args) == 3 && (commands.EqualFold(args[0], "replicaof") || commands.EqualFold(args[0], "slaveof")) {
		// Told what our role is: as a replica the question is moot; promoted
		// by REPLICAOF NO ONE (Sentinel or an operator), we are the master.
		sm.confirmed = true
		s.SafePingError = ""
		sm.roleAt = time.Now()
		for _, se := range sm.sentinels {
			se.curSeen = false
		}
	}
}

func (sm *safeState) sentinel(id string) *sentinelSeen {
	se := sm.sentinels[id]
	if se == nil {
		se = &sentinelSeen{}
		sm.sentinels[id] = se
	}
	return se
}

// isMe reports whether ip:port (from a hello) is this server, as Sentinels
// know it: replica-announce-ip/-port when set, else the address the
// Sentinel connected to.
func (st *State) isMe(c *server.Client, ip string, port int) bool {
	s := st.srv
	myPort := int(s.Cfg.Int("replica-announce-port"))
	if myPort == 0 {
		myPort = s.Port()
	}
	if port != myPort {
		return false
	}
	if a := s.Cfg.String("replica-announce-ip"); a != "" {
		return a == ip
	}
	host, _, _ := net.SplitHostPort(c.LocalAddr())
	return host == ip || (net.ParseIP(host).IsLoopback() && net.ParseIP(ip).IsLoopback())
}

func (safeGate) Await(s *server.Server, c *server.Client, target int64) (<-chan struct{}, time.Duration) {
	st := Of(s)
	sm := st.sm
	if st.masterHost != "" || sm.minAck <= 0 {
		return nil, 0
	}
	if st.ackedAtLeast(target) >= sm.minAck {
		return nil, 0
	}
	w := &safeWaiter{c: c, target: target, ch: make(chan struct{})}
	sm.waiters = append(sm.waiters, w)
	// Ask every replica (Redis's too) for an ACK now; one GETACK covers
	// every write before it.
	if target > sm.lastGetack && len(st.replicas) > 0 {
		st.writeStream(resp.AppendCommand(nil, "REPLCONF", "GETACK", "*"))
		sm.lastGetack = st.offset
	}
	return w.ch, sm.fence
}

func (safeGate) Finish(s *server.Server, c *server.Client) string {
	sm := Of(s).sm
	for i, w := range sm.waiters {
		if w.c == c {
			sm.waiters = append(sm.waiters[:i:i], sm.waiters[i+1:]...)
			if w.acked {
				return ""
			}
			if w.fail != "" {
				return w.fail
			}
			break
		}
	}
	return fmt.Sprintf("NOREPLICAS vigil safe mode: the write was not acknowledged by %d replica(s) within %d ms; it may or may not be durable", sm.minAck, sm.fence.Milliseconds())
}

// safeFailWaiters answers every write still waiting for its ACKs with an
// error at once, when the master stops being confirmed (paused, lost its
// Sentinels, a failover may be under way): an unconfirmed master
// acknowledges nothing, and the client learns it now rather than after the
// fence timeout. The writes may still reach the replicas (the error says
// so, like the timeout's).
func (st *State) safeFailWaiters(why string) {
	msg := "NOREPLICAS vigil safe mode: the write was not acknowledged before this master stopped being confirmed as the master (" + why + "); it may or may not be durable"
	for _, w := range st.sm.waiters {
		if !w.acked && w.fail == "" {
			w.fail = msg
			close(w.ch)
		}
	}
}

// safeOnAck releases the writers whose target is now acknowledged.
func (st *State) safeOnAck() {
	sm := st.sm
	if sm == nil || len(sm.waiters) == 0 || !sm.confirmed {
		// An unconfirmed master (paused, lost its Sentinels, an election
		// may be under way) acknowledges nothing: its pending writes were
		// failed when it became unconfirmed (safeFailWaiters).
		return
	}
	if time.Since(sm.lastCron) > st.pauseThreshold() {
		// Our own ticks stopped (paused): an ACK read before the cron
		// notices acknowledges nothing; the cron fails the waiters.
		return
	}
	// Waiters stay in the list until Finish, which reads the outcome.
	for _, w := range sm.waiters {
		if !w.acked && w.fail == "" && st.ackedAtLeast(w.target) >= sm.minAck {
			w.acked = true
			close(w.ch)
		}
	}
}

// fenceReason returns why a master in safe mode must refuse writes now, or "".
func (st *State) fenceReason(now time.Time) string {
	sm := st.sm
	if sm.minAck > 0 {
		n := 0
		for _, r := range st.replicas {
			if r.state == stateOnline && now.Sub(r.ackTime) <= sm.fence && r.ackTime.After(sm.resumeAt) {
				n++
			}
		}
		if n < sm.minAck {
			return fmt.Sprintf("NOREPLICAS vigil safe mode: fenced, %d of %d required replicas acknowledged within %d ms", n, sm.minAck, sm.fence.Milliseconds())
		}
	}
	if known, fresh := sm.freshSentinels(now, sm.resumeAt); known > 0 && fresh < known/2+1 {
		return fmt.Sprintf("NOREPLICAS vigil safe mode: fenced, only %d of %d Sentinels heard from within %d ms", fresh, known, sm.fence.Milliseconds())
	}
	meEp, _ := sm.helloEpochs(now, true, time.Time{})
	if otherEp, otherSeen := sm.helloEpochs(now, false, time.Time{}); otherSeen && otherEp > meEp {
		return "READONLY vigil safe mode: fenced, Sentinels report another master with a newer configuration epoch"
	}
	return ""
}

// freshSentinels counts the Sentinels this node has seen (known) and those
// that sent it a command within the fence timeout and after since (fresh;
// the zero time: any time).
func (sm *safeState) freshSentinels(now, since time.Time) (known, fresh int) {
	for _, se := range sm.sentinels {
		known++
		if now.Sub(se.last) <= sm.fence && se.last.After(since) {
			fresh++
		}
	}
	return known, fresh
}

// helloEpochs returns the highest config epoch among the recent hellos
// (within 3 fence timeouts + two hello periods, and after since) that name
// this server (me) or another master (!me), and whether there is one.
func (sm *safeState) helloEpochs(now time.Time, me bool, since time.Time) (ep uint64, seen bool) {
	for _, se := range sm.sentinels {
		if se.helloAt.IsZero() || now.Sub(se.helloAt) > 3*sm.fence+4*time.Second || !se.helloAt.After(since) || se.helloMe != me {
			continue
		}
		seen = true
		if se.helloEp > ep {
			ep = se.helloEp
		}
	}
	return ep, seen
}

// sentinelMajorityLost reports whether this master has seen Sentinels and
// fewer than a majority of them talked to it within the fence timeout.
func (st *State) sentinelMajorityLost(now time.Time) bool {
	known, fresh := st.sm.freshSentinels(now, time.Time{})
	return known > 0 && fresh < known/2+1
}

// sentinelEpochRose applies the epoch rule to a hello from se carrying the
// Sentinel's current epoch cur: a master in safe mode that sees a Sentinel's
// current epoch rise (compared with its previous hello since our last
// REPLICAOF) above the config epoch of the recent hellos naming us becomes
// unconfirmed, as after losing the Sentinel majority: an election for us may
// be under way. It matters when the Sentinels can't hear us but we hear
// them (a one-way failure): we are then not fenced (a Sentinel majority
// still talks to us, the replicas still ACK) while they fail us over, and a
// replica not yet re-pointed would acknowledge writes the re-point then
// discards (found by the safe-mode simulation with one-way failures,
// internal/sentinel/core/sim_safe_test.go). vigil Sentinels in safe mode
// send the master a hello as soon as they start a failover or vote in a new
// epoch, ahead of the promotion. Only once a hello named us since our last
// REPLICAOF: a newly promoted master may first hear Sentinels catching up
// with the epoch of its own promotion.
func (st *State) sentinelEpochRose(se *sentinelSeen, cur uint64, now time.Time) {
	sm := st.sm
	prev, seen := se.curEp, se.curSeen
	se.curEp, se.curSeen = cur, true
	if !sm.on.Load() || st.masterHost != "" || !seen || cur <= prev {
		return
	}
	meEp, meSeen := sm.helloEpochs(now, true, sm.roleAt)
	if !meSeen || cur <= meEp {
		return
	}
	if sm.confirmed {
		st.srv.Log.Warn(fmt.Sprintf("vigil safe mode: a Sentinel's current epoch rose to %d (this master's configuration epoch is %d): a failover may be under way; refusing writes until confirmed as master (at least %d ms)", cur, meEp, sm.confirm.Milliseconds()))
	}
	st.safeFailWaiters("a Sentinel's current epoch rose: a failover may be under way")
	sm.confirmed = false
	sm.resumeAt = now
}

func safeDeny(st *State, c *server.Client, cmd *commands.Command) string {
	sm := st.sm
	if sm == nil || !sm.on.Load() || st.masterHost != "" || c.IsFlaggedMaster() {
		return ""
	}
	now := time.Now()
	if now.Sub(sm.lastCron) > st.pauseThreshold() {
		// Our own ticks stopped: we were paused (or starved); the cron hook
		// will mark the resume, but no write goes through before it does.
		return "NOREPLICAS vigil safe mode: the server was paused and has not yet confirmed it is still the master"
	}
	if !sm.confirmed {
		if now.Sub(sm.resumeAt) < sm.confirm {
			return "NOREPLICAS vigil safe mode: this master (re)started, resumed or lost its Sentinels and has not yet confirmed it is still the master"
		}
		if r := st.fenceReason(now); r != "" {
			return "NOREPLICAS vigil safe mode: this master (re)started, resumed or lost its Sentinels and has not yet confirmed it is still the master (" + r[strings.IndexByte(r, ' ')+1:] + ")"
		}
		sm.confirmed = true
		st.srv.Log.Warn("vigil safe mode: confirmed as master, accepting writes")
	}
	return st.fenceReason(now)
}

func (st *State) pauseThreshold() time.Duration {
	t := st.sm.fence / 2
	if t < time.Second {
		t = time.Second
	}
	return t
}

func safeCron(s *server.Server) {
	st := Of(s)
	if st == nil || st.sm == nil {
		return
	}
	sm := st.sm
	now := time.Now()
	if sm.on.Load() && now.Sub(sm.lastCron) > st.pauseThreshold() {
		s.Log.Warn(fmt.Sprintf("vigil safe mode: no cron tick for %d ms (paused?): refusing writes until confirmed as master", now.Sub(sm.lastCron).Milliseconds()))
		sm.resumeAt = now
		sm.confirmed = false
		st.safeFailWaiters("the server was paused")
	}
	sm.lastCron = now
	if sm.on.Load() && st.masterHost == "" && st.sentinelMajorityLost(now) {
		// Fenced for losing the Sentinel majority: they may be failing us
		// over, and a replica not yet re-pointed would still acknowledge
		// our writes. Unconfirmed until vigil-confirm-timeout after the
		// Sentinels are back (found by the safe-mode simulation,
		// internal/sentinel/core/sim_safe_test.go).
		if sm.confirmed {
			s.Log.Warn(fmt.Sprintf("vigil safe mode: lost the Sentinel majority: refusing writes until confirmed as master (at least %d ms after they are back)", sm.confirm.Milliseconds()))
		}
		sm.confirmed = false
		sm.resumeAt = now
		st.safeFailWaiters("it lost the Sentinel majority")
	}
	if st.masterHost != "" {
		// A replica is not the master: when promoted it is confirmed by the
		// REPLICAOF NO ONE that promoted it.
		sm.confirmed = true
	}
	if sm.on.Load() && !sm.confirmed && st.masterHost == "" && now.Sub(sm.resumeAt) >= sm.confirm && st.fenceReason(now) == "" {
		sm.confirmed = true
		s.Log.Warn("vigil safe mode: confirmed as master, accepting writes")
	}
	if sm.confirmed || !sm.on.Load() {
		s.SafePingError = ""
	}
}

func safeInfo(st *State, b *strings.Builder) {
	sm := st.sm
	if sm == nil || !sm.on.Load() {
		return
	}
	fmt.Fprintf(b, "vigil_safe_mode:1\r\nvigil_min_ack_replicas:%d\r\nvigil_fence_timeout:%d\r\nvigil_confirm_timeout:%d\r\n", sm.minAck, sm.fence.Milliseconds(), sm.confirm.Milliseconds())
	if st.masterHost == "" {
		reason := ""
		if !sm.confirmed {
			reason = "unconfirmed"
		} else if r := st.fenceReason(time.Now()); r != "" {
			reason = "fenced"
		}
		if reason == "" {
			reason = "ok"
		}
		fmt.Fprintf(b, "vigil_write_state:%s\r\n", reason)
	}
}

// SafeInfo adds safe mode's INFO replication fields.
var SafeInfo func(st *State, b *strings.Builder)

// safeKick: a vigil replica in safe mode acknowledges right after applying
// each batch (cheaper than waiting for its 1 s tick or a GETACK).
func (st *State) safeReplicaAckNow() bool {
	return st.sm != nil && st.sm.on.Load()
}

// safeRefuseFullSync: a master in safe mode that restarted (not yet
// confirmed) must not full-sync a replica that has more history than it has:
// it came back without its data (no persistence, lost disk), and the
// replica may hold every acknowledged write. Refusing keeps the replica's
// data; the master stays fenced (no replica ACKs it) until Sentinel fails
// over or an operator intervenes.
func (st *State) safeRefuseFullSync(id string, off int64) string {
	sm := st.sm
	if sm == nil || !sm.on.Load() || st.masterHost != "" || sm.confirmed {
		return ""
	}
	if id == "?" || off-1 <= st.offset {
		return ""
	}
	st.srv.Log.Warn(fmt.Sprintf("vigil safe mode: refusing a full resync to a replica at offset %d, ahead of this unconfirmed master (offset %d); answering Sentinels' PINGs with an error so they fail over", off-1, st.offset))
	st.srv.SafePingError = "VIGILSTALE vigil safe mode: this master restarted without data its replicas hold; refusing to serve as master"
	return fmt.Sprintf("NOMASTERLINK vigil safe mode: replica is ahead of this restarted master (%d > %d); refusing to overwrite it", off-1, st.offset)
}
