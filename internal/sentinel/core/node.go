package core

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Options configure a Node.
type Options struct {
	// MyAddr is the address this sentinel announces in hello messages when
	// the state has no announce-ip / announce-port.
	MyAddr Addr
	// Rand is the only source of randomness (election desync, generated
	// myid). Required.
	Rand *rand.Rand
	// DisableTakeover turns off vigil's early leader-death takeover, making
	// the node behave exactly like redis-sentinel 7.0.
	DisableTakeover bool
	// DisableElectionDelay turns off vigil's random 0..1000 ms delay before
	// starting an election (Redis starts at once).
	DisableElectionDelay bool
}

// Node is one sentinel's decision core. It is not safe for concurrent use;
// the shell serialises all calls.
type Node struct {
	st       *State
	opt      Options
	rnd      *rand.Rand
	now      int64
	prevTick int64
	tilt     bool
	tiltT    int64
	nextCmd  uint64
	nextLink LinkID
	pending  map[uint64]pendingCmd
	links    map[LinkID]linkRef
	actions  []Action
	dirty    bool
}

type pendingCmd struct {
	inst    *Instance
	link    LinkID
	purpose Purpose
	n       int
}

type linkRef struct {
	inst   *Instance
	pubsub bool
}

// NewNode creates a node over st at monotonic time now (ms). If st.MyID is
// empty a random id is generated and a PersistState is queued.
func NewNode(st *State, opt Options, now int64) *Node {
	if opt.Rand == nil {
		panic("core: Options.Rand is required")
	}
	now += timeBias
	n := &Node{st: st, opt: opt, rnd: opt.Rand, now: now, prevTick: now,
		pending: map[uint64]pendingCmd{}, links: map[LinkID]linkRef{}}
	if st.MyID == "" {
		const hex = "0123456789abcdef"
		b := make([]byte, RunIDSize)
		for i := range b {
			b[i] = hex[n.rnd.IntN(16)]
		}
		st.MyID = string(b)
		n.dirty = true
	}
	for _, m := range st.masters {
		n.initInstance(&m.Instance)
		for _, r := range m.replicas {
			n.initInstance(r)
		}
		for _, s := range m.sentinels {
			n.initInstance(s)
		}
	}
	return n
}

// State returns the node's state (read-only use by the shell).
func (n *Node) State() *State { return n.st }

// timeBias is added to every time the shell passes in, so that 0 can mean
// "never" internally whatever the shell's clock origin is.
const timeBias = 1 << 40

// Now returns the time of the last Tick (in the shell's clock).
func (n *Node) Now() int64 { return n.now - timeBias }

// InTilt reports whether the node is in TILT mode.
func (n *Node) InTilt() bool { return n.tilt }

// HasReady reports whether Ready would return a non-empty batch.
func (n *Node) HasReady() bool { return n.dirty || len(n.actions) > 0 }

// Ready returns and clears the outputs accumulated so far. If the persistent
// state changed, the first action is a PersistState with the full
// ConfigLines; perform it before anything else in the batch.
func (n *Node) Ready() Ready {
	var acts []Action
	if n.dirty {
		acts = make([]Action, 0, len(n.actions)+1)
		acts = append(acts, PersistState{Lines: n.st.ConfigLines()})
		acts = append(acts, n.actions...)
		n.dirty = false
	} else {
		acts = n.actions
	}
	n.actions = nil
	return Ready{Actions: acts}
}

// Step feeds one input to the state machine.
func (n *Node) Step(in Input) {
	switch v := in.(type) {
	case Tick:
		n.onTick(v.Now)
	case LinkUp:
		n.onLinkUp(v.Link)
	case LinkDown:
		n.onLinkDown(v.Link)
	case Reply:
		n.onReply(v)
	case Message:
		if v.Link != 0 {
			if ref, ok := n.links[v.Link]; ok && ref.pubsub {
				ref.inst.pc.lastActive = n.now
			}
		}
		if v.Channel == HelloChannel {
			n.processHello(v.Payload)
		}
	}
}

func (n *Node) emit(a Action) { n.actions = append(n.actions, a) }
func (n *Node) markDirty()    { n.dirty = true }

func (n *Node) initInstance(i *Instance) {
	i.cmd.actPing, i.cmd.lastAvail, i.cmd.lastPong = n.now, n.now, n.now
	i.pc.lastActive = n.now
	i.cmd.lastTry, i.pc.lastTry = n.now-ReconnectPeriod, n.now-ReconnectPeriod
	i.lastPub = n.now - PublishPeriod - 1 // first hello as soon as the link is up
	i.roleReportedT, i.slaveConfChange = n.now, n.now
}

// ---------------------------------------------------------------------------
// events

func instDesc(i *Instance) string {
	var b strings.Builder
	b.WriteString(i.kind.String())
	b.WriteByte(' ')
	b.WriteString(i.name)
	b.WriteByte(' ')
	b.WriteString(i.addr.IP)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(i.addr.Port))
	if i.kind != KindMaster {
		m := i.owner
		b.WriteString(" @ ")
		b.WriteString(m.name)
		b.WriteByte(' ')
		b.WriteString(m.addr.IP)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(m.addr.Port))
	}
	return b.String()
}

// eventAt publishes "<type> %@<extra>" for instance i.
func (n *Node) eventAt(level Level, typ string, i *Instance, extra string, epoch uint64) {
	n.publish(level, typ, i.owner, instDesc(i)+extra, epoch)
}

func (n *Node) publish(level Level, typ string, m *Master, msg string, epoch uint64) {
	name := ""
	if m != nil {
		name = m.name
	}
	n.emit(Publish{Type: typ, Msg: msg, Level: level, Master: name, Epoch: epoch})
	if level == LevelWarning && m != nil && m.NotificationScript != "" {
		n.emit(RunScript{Kind: NotificationScript, Path: m.NotificationScript, Args: []string{typ, msg}})
	}
}

// ---------------------------------------------------------------------------
// links and commands

func (n *Node) linkOf(i *Instance, pubsub bool) *link {
	if pubsub {
		return &i.pc
	}
	return &i.cmd
}

func (n *Node) connect(i *Instance, pubsub bool) {
	l := n.linkOf(i, pubsub)
	n.nextLink++
	l.id = n.nextLink
	l.connecting = true
	l.lastTry = n.now
	n.links[l.id] = linkRef{inst: i, pubsub: pubsub}
	c := Connect{Link: l.id, Kind: LinkCommand, Addr: i.addr}
	suffix := "cmd"
	if pubsub {
		c.Kind = LinkPubSub
		suffix = "pubsub"
	}
	if i.kind == KindSentinel {
		c.AuthUser, c.AuthPass = n.st.SentinelUser, n.st.SentinelPass
	} else {
		c.AuthUser, c.AuthPass = i.owner.AuthUser, i.owner.AuthPass
	}
	c.ClientName = "sentinel-" + n.st.MyID[:8] + "-" + suffix
	n.emit(c)
}

func (n *Node) closeLink(i *Instance, pubsub bool) {
	l := n.linkOf(i, pubsub)
	if l.connected || l.connecting {
		n.emit(Disconnect{Link: l.id})
	}
	n.dropLink(l)
}

func (n *Node) dropLink(l *link) {
	if l.id != 0 {
		delete(n.links, l.id)
		for id, p := range n.pending {
			if p.link == l.id {
				delete(n.pending, id)
			}
		}
	}
	l.connected, l.connecting, l.pending = false, false, 0
}

func (n *Node) onLinkUp(id LinkID) {
	ref, ok := n.links[id]
	if !ok {
		n.emit(Disconnect{Link: id})
		return
	}
	l := n.linkOf(ref.inst, ref.pubsub)
	l.connected, l.connecting, l.connTime = true, false, n.now
	if ref.pubsub {
		l.lastActive = n.now
		n.send(ref.inst, true, PurposeSubscribe, 0, []string{"SUBSCRIBE", HelloChannel})
	} else {
		n.sendPing(ref.inst)
	}
}

func (n *Node) onLinkDown(id LinkID) {
	ref, ok := n.links[id]
	if !ok {
		return
	}
	n.dropLink(n.linkOf(ref.inst, ref.pubsub))
}

func (n *Node) mapCmd(i *Instance, name string) string {
	if m := i.owner; m != nil && m.RenamedCommands != nil && i.kind != KindSentinel {
		if r, ok := m.RenamedCommands[strings.ToLower(name)]; ok {
			return r
		}
	}
	return name
}

func (n *Node) send(i *Instance, pubsub bool, p Purpose, epoch uint64, cmds ...[]string) bool {
	l := n.linkOf(i, pubsub)
	if !l.connected {
		return false
	}
	n.nextCmd++
	id := n.nextCmd
	n.pending[id] = pendingCmd{inst: i, link: l.id, purpose: p, n: len(cmds)}
	l.pending += len(cmds)
	n.emit(SendCommand{Link: l.id, Addr: i.addr, ID: id, Cmds: cmds, Purpose: p, Epoch: epoch})
	return true
}

func (n *Node) sendPing(i *Instance) {
	if n.send(i, false, PurposePing, 0, []string{n.mapCmd(i, "PING")}) {
		i.cmd.lastPing = n.now
		if i.cmd.actPing == 0 {
			i.cmd.actPing = n.now
		}
	}
}

// sendSlaveOf sends the MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL/EXEC batch
// Redis uses to (re)configure an instance. to.IsZero() means "NO ONE".
func (n *Node) sendSlaveOf(i *Instance, to Addr, p Purpose, epoch uint64) bool {
	host, port := "NO", "ONE"
	if !to.IsZero() {
		host, port = to.IP, strconv.Itoa(to.Port)
	}
	return n.send(i, false, p, epoch,
		[]string{n.mapCmd(i, "MULTI")},
		[]string{n.mapCmd(i, "SLAVEOF"), host, port},
		[]string{n.mapCmd(i, "CONFIG"), "REWRITE"},
		[]string{n.mapCmd(i, "CLIENT"), "KILL", "TYPE", "normal"},
		[]string{n.mapCmd(i, "CLIENT"), "KILL", "TYPE", "pubsub"},
		[]string{n.mapCmd(i, "EXEC")})
}

func (n *Node) myAddr() Addr {
	a := n.opt.MyAddr
	if n.st.AnnounceIP != "" {
		a.IP = n.st.AnnounceIP
	}
	if n.st.AnnouncePort != 0 {
		a.Port = n.st.AnnouncePort
	}
	return a
}

// HelloPayload is the message this node publishes on __sentinel__:hello for m.
func (n *Node) helloPayload(m *Master) string {
	me := n.myAddr()
	ma := m.currentMasterAddr()
	var b strings.Builder
	b.Grow(128)
	b.WriteString(me.IP)
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(me.Port))
	b.WriteByte(',')
	b.WriteString(n.st.MyID)
	b.WriteByte(',')
	b.WriteString(strconv.FormatUint(n.st.CurrentEpoch, 10))
	b.WriteByte(',')
	b.WriteString(m.name)
	b.WriteByte(',')
	b.WriteString(ma.IP)
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(ma.Port))
	b.WriteByte(',')
	b.WriteString(strconv.FormatUint(m.ConfigEpoch, 10))
	return b.String()
}

func (n *Node) sendHello(i *Instance) {
	if n.send(i, false, PurposeHello, 0, []string{n.mapCmd(i, "PUBLISH"), HelloChannel, n.helloPayload(i.owner)}) {
		i.lastPub = n.now
	}
}

func (n *Node) forceHello(m *Master) {
	t := n.now - PublishPeriod - 1
	m.lastPub = t
	for _, r := range m.replicas {
		r.lastPub = t
	}
	for _, s := range m.sentinels {
		s.lastPub = t
	}
}

// ---------------------------------------------------------------------------
// replies

func (n *Node) onReply(r Reply) {
	p, ok := n.pending[r.ID]
	if !ok {
		return
	}
	delete(n.pending, r.ID)
	i := p.inst
	if i.gone {
		return
	}
	l := &i.cmd
	if l.id != p.link {
		l = &i.pc
	}
	if l.id != p.link {
		return
	}
	l.pending -= p.n
	if l.pending < 0 {
		l.pending = 0
	}
	if p.purpose == PurposeInfo {
		i.infoPending = false
	}
	if r.Err != "" {
		return
	}
	v := r.Value
	switch p.purpose {
	case PurposePing:
		l.lastPong = n.now
		valid := (v.Kind == RespStatus && strings.HasPrefix(v.Str, "PONG")) ||
			(v.Kind == RespError && (strings.HasPrefix(v.Str, "LOADING") || strings.HasPrefix(v.Str, "MASTERDOWN")))
		if valid {
			l.lastAvail = n.now
			l.actPing = 0
			if i.rebootFlag && v.Kind == RespStatus {
				i.rebootFlag = false
			}
		} else if v.Kind == RespError && strings.HasPrefix(v.Str, "BUSY") && i.sdown && !i.scriptKillSent {
			if n.send(i, false, PurposeScriptKill, 0, []string{n.mapCmd(i, "SCRIPT"), "KILL"}) {
				i.scriptKillSent = true
			}
		}
	case PurposeInfo:
		if v.Kind == RespBulk || v.Kind == RespStatus {
			n.refreshInfo(i, v.Str)
		}
	case PurposeAskMasterDown:
		if v.Kind == RespArray && len(v.Elems) == 3 && v.Elems[0].Kind == RespInt &&
			(v.Elems[1].Kind == RespBulk || v.Elems[1].Kind == RespStatus) && v.Elems[2].Kind == RespInt {
			i.lastDownReply = n.now
			i.masterDown = v.Elems[0].Int == 1
			if v.Elems[1].Str != "*" {
				i.leader = v.Elems[1].Str
				i.leaderEpoch = uint64(v.Elems[2].Int)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// timer

func (n *Node) onTick(now int64) {
	now += timeBias
	delta := now - n.prevTick
	n.now = now
	n.prevTick = now
	if delta < 0 || delta > TiltTrigger {
		n.tilt = true
		n.tiltT = now
		n.publish(LevelWarning, EvTilt, nil, "#tilt mode entered", 0)
	}
	if n.tilt && now-n.tiltT >= TiltPeriod {
		n.tilt = false
		n.publish(LevelWarning, EvTiltExit, nil, "#tilt mode exited", 0)
	}
	for _, m := range n.st.masters {
		n.handle(&m.Instance)
		for _, r := range m.replicas {
			n.handle(r)
		}
		for _, s := range m.sentinels {
			n.handle(s)
		}
		if m.inFailover && m.failoverState == FailoverUpdateConfig {
			n.switchToPromoted(m)
		}
	}
}

func (n *Node) handle(i *Instance) {
	if i.gone {
		return
	}
	n.reconnect(i)
	n.sendPeriodic(i)
	if n.tilt {
		return
	}
	n.checkSDown(i)
	if i.kind == KindMaster {
		m := i.owner
		n.checkODown(m)
		if n.startFailoverIfNeeded(m) {
			n.askOthers(m, true)
		}
		n.failoverStateMachine(m)
		n.askOthers(m, false)
	}
}

func (n *Node) reconnect(i *Instance) {
	if !i.cmd.connected && !i.cmd.connecting && n.now-i.cmd.lastTry >= ReconnectPeriod {
		n.connect(i, false)
	}
	if i.hasPC && !i.pc.connected && !i.pc.connecting && n.now-i.pc.lastTry >= ReconnectPeriod {
		n.connect(i, true)
	}
}

func (m *Master) pingPeriod() int64 {
	if m.DownAfter < PingPeriod {
		return m.DownAfter
	}
	return PingPeriod
}

func (n *Node) sendPeriodic(i *Instance) {
	l := &i.cmd
	if !l.connected {
		return
	}
	m := i.owner
	if i.kind != KindSentinel && l.pending >= MaxPendingCommands {
		return
	}
	infoPeriod := int64(InfoPeriod)
	if i.kind == KindReplica && (m.odown || m.inFailover || i.masterLinkDownTime != 0) {
		infoPeriod = FastInfoPeriod
	}
	pp := m.pingPeriod()
	if i.kind != KindSentinel && (i.infoRefresh == 0 || n.now-i.infoRefresh > infoPeriod) &&
		(!i.infoPending || n.now-i.lastInfoSent() > FastInfoPeriod) {
		n.sendInfo(i)
	}
	if n.now-l.lastPong > pp && n.now-l.lastPing > pp/2 {
		n.sendPing(i)
	}
	if n.now-i.lastPub > PublishPeriod {
		n.sendHello(i)
	}
}

func (i *Instance) lastInfoSent() int64 { return i.infoSentT }

func (n *Node) sendInfo(i *Instance) {
	if n.send(i, false, PurposeInfo, 0, []string{n.mapCmd(i, "INFO")}) {
		i.infoPending = true
		i.infoSentT = n.now
	}
}

// ---------------------------------------------------------------------------
// failure detection

func (n *Node) checkSDown(i *Instance) {
	m := i.owner
	l := &i.cmd
	var elapsed int64
	if l.actPing != 0 {
		elapsed = n.now - l.actPing
	} else if !l.connected {
		elapsed = n.now - l.lastAvail
	}
	if l.connected && n.now-l.connTime > MinLinkReconnectPeriod && l.actPing != 0 &&
		n.now-l.actPing > m.DownAfter/2 && n.now-l.lastPong > m.DownAfter/2 {
		n.closeLink(i, false)
	}
	if i.hasPC && i.pc.connected && n.now-i.pc.connTime > MinLinkReconnectPeriod &&
		n.now-i.pc.lastActive > PublishPeriod*3 {
		n.closeLink(i, true)
	}
	down := elapsed > m.DownAfter ||
		(i.kind == KindMaster && i.roleReported == KindReplica && n.now-i.roleReportedT > m.DownAfter+2*InfoPeriod) ||
		(i.kind == KindMaster && i.rebootFlag && n.now-i.rebootSince > m.RebootDownAfter)
	if down {
		if !i.sdown {
			i.sdown = true
			i.sdownT = n.now
			n.eventAt(LevelWarning, EvSDown, i, "", 0)
		}
	} else if i.sdown {
		i.sdown = false
		i.scriptKillSent = false
		n.eventAt(LevelWarning, EvSDownExit, i, "", 0)
	}
}

func (n *Node) checkODown(m *Master) {
	q := 0
	od := false
	if m.sdown {
		q = 1
		for _, s := range m.sentinels {
			if s.masterDown {
				q++
			}
		}
		od = q >= m.Quorum
	}
	if od {
		if !m.odown {
			m.odown = true
			m.odownSince = n.now
			n.eventAt(LevelWarning, EvODown, &m.Instance, " #quorum "+strconv.Itoa(q)+"/"+strconv.Itoa(m.Quorum), 0)
		}
	} else if m.odown {
		m.odown = false
		n.eventAt(LevelWarning, EvODownExit, &m.Instance, "", 0)
	}
}

func (n *Node) askOthers(m *Master, forced bool) {
	for _, s := range m.sentinels {
		if n.now-s.lastDownReply > AskPeriod*5 {
			s.masterDown = false
			s.leader = ""
		}
		if !m.sdown || !s.cmd.connected {
			continue
		}
		if !forced && (n.now-s.lastDownReply < AskPeriod || n.now-s.lastAsk < AskPeriod) {
			continue
		}
		runid := "*"
		epoch := n.st.CurrentEpoch
		if m.failoverState > FailoverNone {
			// vigil: ask for votes in the failover epoch, not the current
			// one (see doc.go, "Epoch-exact vote counting").
			runid, epoch = n.st.MyID, m.failoverEpoch
		}
		if n.send(s, false, PurposeAskMasterDown, 0, []string{"SENTINEL", "is-master-down-by-addr",
			m.addr.IP, strconv.Itoa(m.addr.Port), strconv.FormatUint(epoch, 10), runid}) {
			s.lastAsk = n.now
		}
	}
}

// ---------------------------------------------------------------------------
// INFO processing

func (n *Node) refreshInfo(i *Instance, text string) {
	inf := ParseInfo(text)
	m := i.owner
	if inf.RunID != "" && inf.RunID != i.runid {
		if i.runid != "" {
			n.eventAt(LevelNotice, EvReboot, i, "", 0)
			if i.kind == KindMaster && m.RebootDownAfter != 0 {
				i.rebootFlag = true
				i.rebootSince = n.now
			}
		}
		i.runid = inf.RunID
	}
	if i.kind == KindMaster {
		for _, r := range inf.Replicas {
			if m.replicaByAddr(r.Addr) == nil {
				nr := m.addReplica(r.Addr)
				n.initInstance(nr)
				n.eventAt(LevelNotice, EvSlave, nr, "", 0)
				n.markDirty()
			}
		}
	}
	i.masterLinkDownTime = 0
	if inf.MasterLinkDownSince >= 0 {
		i.masterLinkDownTime = inf.MasterLinkDownSince * 1000
	}
	i.infoRefresh = n.now
	i.vigilMinAck = inf.VigilMinAck
	i.replID, i.replID2, i.masterOffset = inf.MasterReplID, inf.MasterReplID2, inf.MasterReplOffset
	if i.kind == KindMaster && inf.HasRole && inf.Role == KindMaster && inf.MasterReplID != "" {
		i.noteReplID(inf.MasterReplID)
	}
	if !inf.HasRole {
		return
	}
	role := inf.Role
	if role == KindReplica {
		if i.slaveMasterHost != inf.MasterHost || i.slaveMasterPort != inf.MasterPort {
			// As Redis's slave_conf_change_time: a replica that just
			// changed master (e.g. re-pointed by the failover leader) is
			// left alone by +fix-slave-config for failover-timeout.
			i.slaveConfChange = n.now
		}
		i.slaveMasterHost = inf.MasterHost
		i.slaveMasterPort = inf.MasterPort
		i.masterLinkUp = inf.MasterLinkUp
		i.slavePriority = inf.SlavePriority
		i.replOffset = inf.SlaveReplOffset
		i.replicaAnnounced = inf.ReplicaAnnounced
	}
	if role != i.roleReported {
		i.roleReportedT = n.now
		i.roleReported = role
		if role == KindReplica {
			i.slaveConfChange = n.now
		}
		typ := EvRoleChangeBad
		if i.kind == role {
			typ = EvRoleChange
		}
		n.eventAt(LevelVerbose, typ, i, " new reported role is "+role.String(), 0)
	}
	if i.kind == KindReplica && role == KindMaster {
		m.promotionSeenAt = n.now
	}
	if n.tilt {
		return
	}
	// A replica reports being a master.
	if i.kind == KindReplica && role == KindMaster {
		if i.promotedFlag && m.inFailover && m.failoverState == FailoverWaitPromotion {
			if m.failoverEpoch > m.ConfigEpoch {
				m.ConfigEpoch = m.failoverEpoch
			}
			m.failoverState = FailoverReconfSlaves
			m.failoverStateTime = n.now
			n.markDirty()
			n.eventAt(LevelWarning, EvPromotedSlave, i, "", m.failoverEpoch)
			n.eventAt(LevelWarning, EvFailoverStateReconfSlaves, &m.Instance, "", m.failoverEpoch)
			n.clientReconfScript(m, "leader", m.addr, i.addr)
			n.forceHello(m)
		} else {
			wait := int64(PublishPeriod * 4)
			if !i.promotedFlag && n.masterLooksSane(m) && n.noDownFor(i, wait) && n.now-i.roleReportedT > wait {
				if n.sendSlaveOf(i, m.addr, PurposeConvertToSlave, 0) {
					n.eventAt(LevelNotice, EvConvertToSlave, i, "", 0)
				}
			}
		}
	}
	// A replica replicating from the wrong master.
	if i.kind == KindReplica && role == KindReplica &&
		(i.slaveMasterPort != m.addr.Port || !strings.EqualFold(i.slaveMasterHost, m.addr.IP)) {
		wait := m.FailoverTimeout
		if n.masterLooksSane(m) && n.noDownFor(i, wait) && n.now-i.slaveConfChange > wait {
			if n.sendSlaveOf(i, m.addr, PurposeFixSlaveConfig, 0) {
				n.eventAt(LevelNotice, EvFixSlaveConfig, i, "", 0)
			}
		}
	}
	// Reconfiguration progress during a failover.
	if i.kind == KindReplica && role == KindReplica && (i.reconfSent || i.reconfInprog) && m.promoted != nil {
		pa := m.promoted.addr
		if i.reconfSent && i.slaveMasterPort == pa.Port && strings.EqualFold(i.slaveMasterHost, pa.IP) {
			i.reconfSent = false
			i.reconfInprog = true
			n.eventAt(LevelNotice, EvSlaveReconfInprog, i, "", m.failoverEpoch)
		}
		if i.reconfInprog && i.masterLinkUp {
			i.reconfInprog = false
			i.reconfDone = true
			n.eventAt(LevelNotice, EvSlaveReconfDone, i, "", m.failoverEpoch)
		}
	}
}

func (n *Node) masterLooksSane(m *Master) bool {
	return m.roleReported == KindMaster && !m.sdown && !m.odown && n.now-m.infoRefresh < InfoPeriod*2
}

func (n *Node) noDownFor(i *Instance, ms int64) bool {
	t := i.sdownT
	if i.owner.sdownT > t {
		t = i.owner.sdownT
	}
	return t == 0 || n.now-t > ms
}

func (n *Node) clientReconfScript(m *Master, role string, from, to Addr) {
	if m.ClientReconfigScript == "" {
		return
	}
	n.emit(RunScript{Kind: ClientReconfigScript, Path: m.ClientReconfigScript, Args: []string{
		m.name, role, "start", from.IP, strconv.Itoa(from.Port), to.IP, strconv.Itoa(to.Port)}})
}

// ---------------------------------------------------------------------------
// hello messages

func (n *Node) processHello(payload string) {
	tok := strings.Split(payload, ",")
	if len(tok) != 8 {
		return
	}
	if tok[2] == n.st.MyID {
		return
	}
	m := n.st.Master(tok[4])
	if m == nil {
		return
	}
	sa := Addr{tok[0], atoi(tok[1])}
	runid := tok[2]
	cepoch := atou64(tok[3])
	ma := Addr{tok[5], atoi(tok[6])}
	// Hellos come from the network: drop ones whose addresses couldn't be
	// persisted and reloaded (a bogus port would make our own rewritten
	// config refuse to load at the next start).
	if !validHelloAddr(sa) || !validHelloAddr(ma) || runid == "" || strings.ContainsAny(runid, " \t\r\n\"'") {
		return
	}
	mcepoch := atou64(tok[7])
	var si *Instance
	for _, s := range m.sentinels {
		if s.runid == runid && s.addr == sa {
			si = s
			break
		}
	}
	if si == nil {
		keep := m.sentinels[:0]
		for _, s := range m.sentinels {
			if s.runid == runid || s.addr == sa {
				n.eventAt(LevelNotice, EvDupSentinel, s, " #duplicate of "+sa.String()+" or "+runid, 0)
				n.dropInstance(s)
				continue
			}
			keep = append(keep, s)
		}
		m.sentinels = keep
		si = m.addSentinel(runid, sa)
		n.initInstance(si)
		n.eventAt(LevelNotice, EvSentinel, si, "", 0)
		n.markDirty()
	}
	if cepoch > n.st.CurrentEpoch {
		n.st.CurrentEpoch = cepoch
		n.markDirty()
		n.publish(LevelWarning, EvNewEpoch, m, strconv.FormatUint(cepoch, 10), cepoch)
	}
	if m.ConfigEpoch < mcepoch {
		m.ConfigEpoch = mcepoch
		n.markDirty()
		if ma != m.addr || m.inFailover {
			old := m.addr
			if ma != m.addr {
				n.eventAt(LevelNotice, EvConfigUpdateFrom, si, "", mcepoch)
				n.publish(LevelWarning, EvSwitchMaster, m, m.name+" "+old.IP+" "+strconv.Itoa(old.Port)+" "+ma.IP+" "+strconv.Itoa(ma.Port), mcepoch)
			}
			n.resetMasterAndChangeAddr(m, ma)
			if ma != old {
				n.clientReconfScript(m, "observer", old, ma)
			}
		}
	}
	si.lastHello = n.now
}

func (n *Node) dropInstance(i *Instance) {
	n.closeLink(i, false)
	if i.hasPC {
		n.closeLink(i, true)
	}
	i.gone = true
}

// resetMaster clears the master's runtime state (Redis sentinelResetMaster).
func (n *Node) resetMaster(m *Master, sentinelsToo, event bool) {
	for _, r := range m.replicas {
		n.dropInstance(r)
	}
	m.replicas = nil
	if sentinelsToo {
		for _, s := range m.sentinels {
			n.dropInstance(s)
		}
		m.sentinels = nil
	}
	n.closeLink(&m.Instance, false)
	n.closeLink(&m.Instance, true)
	m.sdown, m.odown, m.inFailover, m.forceFailover = false, false, false, false
	m.rebootFlag, m.scriptKillSent, m.masterDown = false, false, false
	m.Leader = ""
	m.failoverState = FailoverNone
	m.failoverStateTime, m.failoverStart = 0, 0
	m.promoted = nil
	m.runid = ""
	m.lastPub, m.infoRefresh = 0, 0
	m.infoPending = false
	m.roleReported = KindMaster
	m.desyncAt = 0
	m.replID, m.replID2, m.replIDs = "", "", nil
	n.initInstance(&m.Instance)
	if event {
		n.eventAt(LevelWarning, EvResetMaster, &m.Instance, "", 0)
	}
}

func (n *Node) resetMasterAndChangeAddr(m *Master, to Addr) {
	var addrs []Addr
	for _, r := range m.replicas {
		if r.addr != to {
			addrs = append(addrs, r.addr)
		}
	}
	if to != m.addr {
		dup := false
		for _, a := range addrs {
			dup = dup || a == m.addr
		}
		if !dup {
			addrs = append(addrs, m.addr)
		}
	}
	n.resetMaster(m, false, false)
	m.addr = to
	m.odownSince, m.sdownT = 0, 0
	for _, a := range addrs {
		n.initInstance(m.addReplica(a))
	}
	n.markDirty()
}

func validHelloAddr(a Addr) bool {
	return a.IP != "" && a.Port > 0 && a.Port <= 65535 && !strings.ContainsAny(a.IP, " \t\r\n\"'")
}
