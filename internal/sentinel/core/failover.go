package core

import (
	"sort"
	"strconv"
	"strings"
)

// voteLeader implements Sentinel's vote rule: at most one vote per epoch per
// master, for the first candidate asking in an epoch newer than our last
// vote, and only if our current epoch is not newer than the request.
func (n *Node) voteLeader(m *Master, epoch uint64, runid string) (string, uint64) {
	newEpoch := epoch > n.st.CurrentEpoch
	if newEpoch {
		n.st.CurrentEpoch = epoch
		n.markDirty()
		n.publish(LevelWarning, EvNewEpoch, m, strconv.FormatUint(epoch, 10), epoch)
	}
	if m.LeaderEpoch < epoch && n.st.CurrentEpoch <= epoch {
		m.Leader = runid
		m.LeaderEpoch = n.st.CurrentEpoch
		m.votedAt = n.now
		n.markDirty()
		n.publish(LevelWarning, EvVoteForLeader, m, runid+" "+strconv.FormatUint(m.LeaderEpoch, 10), m.LeaderEpoch)
		if runid != n.st.MyID {
			m.failoverStart = n.now + int64(n.rnd.IntN(MaxDesync))
		}
		newEpoch = true
	}
	if newEpoch {
		n.safeAnnounceEpoch(m)
	}
	return m.Leader, m.LeaderEpoch
}

// HandleIsMasterDownByAddr answers "SENTINEL is-master-down-by-addr ip port
// epoch runid". If persist is true the node's next Ready starts with a
// PersistState which the shell MUST complete before sending the reply
// (*3 :downState $leaderRunid :leaderEpoch).
func (n *Node) HandleIsMasterDownByAddr(ip string, port int, epoch uint64, runid string) (downState int, leaderRunid string, leaderEpoch uint64, persist bool) {
	m := n.st.masterByAddr(Addr{ip, port})
	if !n.tilt && m != nil && m.sdown {
		downState = 1
	}
	if m != nil && runid != "*" {
		leaderRunid, leaderEpoch = n.voteLeader(m, epoch, runid)
	}
	if leaderRunid == "" {
		leaderRunid = "*"
	}
	return downState, leaderRunid, leaderEpoch, n.dirty
}

// getLeader tallies the votes reported by the other sentinels for the current
// epoch, casts our own vote, and returns the winner if it has a majority of
// all known sentinels (voters = others + 1) and at least quorum votes.
func (n *Node) getLeader(m *Master, epoch uint64) string {
	type tally struct {
		id string
		c  int
	}
	var t []tally
	incr := func(id string) int {
		for k := range t {
			if t[k].id == id {
				t[k].c++
				return t[k].c
			}
		}
		t = append(t, tally{id, 1})
		return 1
	}
	voters := len(m.sentinels) + 1
	for _, s := range m.sentinels {
		if s.leader != "" && s.leaderEpoch == epoch {
			incr(s.leader)
		}
	}
	winner, max := "", 0
	for _, x := range t {
		if x.c > max || (x.c == max && x.id < winner) {
			winner, max = x.id, x.c
		}
	}
	var myvote string
	var le uint64
	if winner != "" {
		myvote, le = n.voteLeader(m, epoch, winner)
	} else {
		myvote, le = n.voteLeader(m, epoch, n.st.MyID)
	}
	if myvote != "" && le == epoch {
		if c := incr(myvote); c > max {
			max, winner = c, myvote
		}
	}
	if winner != "" && (max < voters/2+1 || max < m.Quorum) {
		winner = ""
	}
	return winner
}

// takeoverAllowed is vigil's early-retry rule (see doc.go, "Leader death
// takeover").
func (n *Node) takeoverAllowed(m *Master) bool {
	if n.opt.DisableTakeover || m.Leader == "" || m.Leader == n.st.MyID || m.votedAt == 0 {
		return false
	}
	// A replica the leader promoted (role:master seen since the vote) is
	// progress only while the leader lives to publish the new
	// configuration: a leader that dies between +promoted-slave and its
	// first hello would otherwise stall the failover for 2*failover-timeout.
	// The new leader then picks that replica again (selectReplica).
	if m.ConfigEpoch >= m.LeaderEpoch {
		return false // the leader's configuration reached us
	}
	if n.now-m.votedAt <= m.DownAfter {
		return false
	}
	// The leader must look dead to us: subjectively down as a sentinel
	// (no valid PING reply for down-after ms) and silent on hello for
	// max(down-after, 2 publish periods): a live leader publishes a hello
	// on every instance every publish period.
	if l := m.sentinelByRunID(m.Leader); l != nil {
		silence := int64(2 * PublishPeriod)
		if m.DownAfter > silence {
			silence = m.DownAfter
		}
		if !l.sdown || n.now-l.lastHello <= silence {
			return false
		}
	}
	return true
}

func (n *Node) startFailoverIfNeeded(m *Master) bool {
	if !m.odown {
		m.desyncAt = 0
		return false
	}
	if m.inFailover {
		return false
	}
	takeover := false
	if n.now-m.failoverStart < 2*m.FailoverTimeout {
		if !n.takeoverAllowed(m) {
			return false
		}
		takeover = true
	}
	if !n.opt.DisableElectionDelay {
		if m.desyncAt == 0 {
			m.desyncAt = n.now + int64(n.rnd.IntN(MaxDesync)) + 1
		}
		if n.now < m.desyncAt {
			return false
		}
		m.desyncAt = 0
	}
	if takeover {
		n.eventAt(LevelWarning, EvTakeover, &m.Instance, " #leader "+m.Leader+" epoch "+strconv.FormatUint(m.LeaderEpoch, 10)+" made no progress"+n.takeoverDebug(m), m.LeaderEpoch)
	}
	n.startFailover(m)
	return true
}

func (n *Node) startFailover(m *Master) {
	m.failoverState = FailoverWaitStart
	m.inFailover = true
	n.st.CurrentEpoch++
	m.failoverEpoch = n.st.CurrentEpoch
	n.markDirty()
	n.publish(LevelWarning, EvNewEpoch, m, strconv.FormatUint(n.st.CurrentEpoch, 10), n.st.CurrentEpoch)
	n.eventAt(LevelWarning, EvTryFailover, &m.Instance, "", m.failoverEpoch)
	m.failoverStart = n.now + int64(n.rnd.IntN(MaxDesync))
	m.failoverStateTime = n.now
	n.safeAnnounceEpoch(m)
}

func (n *Node) abortFailover(m *Master) {
	m.inFailover, m.forceFailover = false, false
	m.failoverState = FailoverNone
	m.failoverStateTime = n.now
	if m.promoted != nil {
		m.promoted.promotedFlag = false
		m.promoted = nil
	}
}

func (n *Node) failoverStateMachine(m *Master) {
	for n.failoverStep(m) {
	}
}

// failoverStep runs one state of the failover. It reports whether the next
// state should run at once: vigil goes from +elected-leader through
// +selected-slave to SLAVEOF NO ONE in one tick (Redis takes one timer tick,
// 100 ms, per state); those states wait for nothing.
func (n *Node) failoverStep(m *Master) bool {
	if !m.inFailover {
		return false
	}
	prev := m.failoverState
	n.failoverRunState(m)
	return m.inFailover && m.failoverState != prev &&
		(m.failoverState == FailoverSelectSlave || m.failoverState == FailoverSendSlaveofNoOne)
}

func (n *Node) failoverRunState(m *Master) {
	switch m.failoverState {
	case FailoverWaitStart:
		n.failoverWaitStart(m)
	case FailoverSelectSlave:
		n.failoverSelectSlave(m)
	case FailoverSendSlaveofNoOne:
		n.failoverSendSlaveOfNoOne(m)
	case FailoverWaitPromotion:
		if n.now-m.failoverStateTime > m.FailoverTimeout {
			n.eventAt(LevelWarning, EvAbortSlaveTimeout, &m.Instance, "", m.failoverEpoch)
			n.abortFailover(m)
		}
	case FailoverReconfSlaves:
		n.failoverReconfNextSlave(m)
	}
}

func (n *Node) failoverWaitStart(m *Master) {
	leader := n.getLeader(m, m.failoverEpoch)
	if leader != n.st.MyID && !m.forceFailover {
		et := int64(ElectionTimeout)
		if et > m.FailoverTimeout {
			et = m.FailoverTimeout
		}
		if n.now-m.failoverStart > et {
			n.eventAt(LevelWarning, EvAbortNotElected, &m.Instance, "", m.failoverEpoch)
			n.abortFailover(m)
		}
		return
	}
	n.eventAt(LevelWarning, EvElectedLeader, &m.Instance, "", m.failoverEpoch)
	m.failoverState = FailoverSelectSlave
	m.failoverStateTime = n.now
	n.eventAt(LevelNotice, EvFailoverStateSelectSlave, &m.Instance, "", m.failoverEpoch)
}

// selectReplica picks the replica to promote: usable replicas sorted by
// priority (lower first), then (vigil) a replica that reported role:master
// since the master went down (promoted by a leader that died before
// publishing the new configuration: it may already have acknowledged
// writes), replication offset (higher first), run id (lexicographically
// smaller first, unknown last).
func (n *Node) selectReplica(m *Master) *Instance {
	maxDown := m.DownAfter * 10
	if m.sdown {
		maxDown += n.now - m.sdownT
	}
	validity := int64(InfoPeriod * 3)
	if m.sdown {
		validity = PingPeriod * 5
	}
	var c []*Instance
	for _, r := range m.replicas {
		if r.sdown || !r.cmd.connected || n.now-r.cmd.lastAvail > PingPeriod*5 || r.slavePriority == 0 ||
			n.now-r.infoRefresh > validity || r.masterLinkDownTime > maxDown {
			continue
		}
		c = append(c, r)
	}
	if m.SafeMode {
		return n.safeSelect(m, c)
	}
	if len(c) == 0 {
		return nil
	}
	sort.SliceStable(c, func(a, b int) bool {
		x, y := c[a], c[b]
		if x.slavePriority != y.slavePriority {
			return x.slavePriority < y.slavePriority
		}
		if px, py := promotedSinceDown(m, x), promotedSinceDown(m, y); px != py {
			return px
		}
		if x.replOffset != y.replOffset {
			return x.replOffset > y.replOffset
		}
		if x.runid == "" || y.runid == "" {
			return x.runid != "" && y.runid == ""
		}
		return strings.ToLower(x.runid) < strings.ToLower(y.runid)
	})
	return c[0]
}

// promotedSinceDown reports whether replica r of m reports role:master and
// has done so since m went subjectively down.
func promotedSinceDown(m *Master, r *Instance) bool {
	return m.sdown && r.roleReported == KindMaster && r.roleReportedT >= m.sdownT
}

func (n *Node) failoverSelectSlave(m *Master) {
	r := n.selectReplica(m)
	if r == nil && m.SafeMode && n.now-m.failoverStateTime < m.FailoverTimeout {
		// vigil safe mode: keep the election and wait (up to
		// failover-timeout) for enough replicas to become reachable.
		return
	}
	if r == nil {
		n.eventAt(LevelWarning, EvAbortNoGoodSlave, &m.Instance, "", m.failoverEpoch)
		n.abortFailover(m)
		return
	}
	n.eventAt(LevelWarning, EvSelectedSlave, r, "", m.failoverEpoch)
	r.promotedFlag = true
	m.promoted = r
	m.failoverState = FailoverSendSlaveofNoOne
	m.failoverStateTime = n.now
	n.eventAt(LevelNotice, EvFailoverStateSendNoOne, r, "", m.failoverEpoch)
}

func (n *Node) failoverSendSlaveOfNoOne(m *Master) {
	r := m.promoted
	if !r.cmd.connected {
		if n.now-m.failoverStateTime > m.FailoverTimeout {
			n.eventAt(LevelWarning, EvAbortSlaveTimeout, &m.Instance, "", m.failoverEpoch)
			n.abortFailover(m)
		}
		return
	}
	if !n.sendSlaveOf(r, Addr{}, PurposePromote, m.failoverEpoch) {
		return
	}
	// vigil: INFO right behind the batch, so the promotion is seen one
	// round trip later rather than at the next (1 s) INFO period.
	n.sendInfo(r)
	n.eventAt(LevelNotice, EvFailoverStateWaitPromo, r, "", m.failoverEpoch)
	m.failoverState = FailoverWaitPromotion
	m.failoverStateTime = n.now
}

func (n *Node) failoverReconfNextSlave(m *Master) {
	inProgress := 0
	for _, r := range m.replicas {
		if r.reconfSent || r.reconfInprog {
			inProgress++
		}
	}
	for _, r := range m.replicas {
		if inProgress >= m.ParallelSyncs {
			break
		}
		if r.promotedFlag || r.reconfDone {
			continue
		}
		if r.reconfSent && n.now-r.reconfSentTime > SlaveReconfTimeout {
			n.eventAt(LevelNotice, EvSlaveReconfSentTimeout, r, "", m.failoverEpoch)
			r.reconfSent = false
			r.reconfDone = true
		}
		if r.reconfSent || r.reconfInprog || !r.cmd.connected {
			continue
		}
		if n.sendSlaveOf(r, m.promoted.addr, PurposeReconfigure, m.failoverEpoch) {
			r.reconfSent = true
			r.reconfSentTime = n.now
			n.eventAt(LevelNotice, EvSlaveReconfSent, r, "", m.failoverEpoch)
			inProgress++
		}
	}
	n.failoverDetectEnd(m)
}

func (n *Node) failoverDetectEnd(m *Master) {
	if m.promoted == nil || m.promoted.sdown {
		return
	}
	notReconf := 0
	for _, r := range m.replicas {
		if r.promotedFlag || r.reconfDone || r.sdown {
			continue
		}
		notReconf++
	}
	timeout := false
	if n.now-m.failoverStateTime > m.FailoverTimeout {
		notReconf = 0
		timeout = true
		n.eventAt(LevelWarning, EvFailoverEndForTimeout, &m.Instance, "", m.failoverEpoch)
	}
	if notReconf == 0 {
		n.eventAt(LevelWarning, EvFailoverEnd, &m.Instance, "", m.failoverEpoch)
		m.failoverState = FailoverUpdateConfig
		m.failoverStateTime = n.now
	}
	if timeout {
		for _, r := range m.replicas {
			if r.promotedFlag || r.reconfDone || r.reconfSent || !r.cmd.connected {
				continue
			}
			if n.sendSlaveOf(r, m.promoted.addr, PurposeReconfigure, m.failoverEpoch) {
				n.eventAt(LevelNotice, EvSlaveReconfSentBE, r, "", m.failoverEpoch)
				r.reconfSent = true
			}
		}
	}
}

func (n *Node) switchToPromoted(m *Master) {
	to := m.addr
	if m.promoted != nil {
		to = m.promoted.addr
	}
	old := m.addr
	n.publish(LevelWarning, EvSwitchMaster, m, m.name+" "+old.IP+" "+strconv.Itoa(old.Port)+" "+to.IP+" "+strconv.Itoa(to.Port), m.ConfigEpoch)
	n.resetMasterAndChangeAddr(m, to)
}

func (n *Node) takeoverDebug(m *Master) string {
	l := m.sentinelByRunID(m.Leader)
	if l == nil {
		return " (unknown leader)"
	}
	return " hello=" + strconv.FormatInt(n.now-l.lastHello, 10) + " avail=" + strconv.FormatInt(n.now-l.cmd.lastAvail, 10) + " voted=" + strconv.FormatInt(n.now-m.votedAt, 10)
}
