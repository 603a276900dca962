package core

import (
	"strconv"
	"strings"
)

// Fields is an ordered list of key/value pairs, printed verbatim by the shell
// as a flat RESP array (SENTINEL MASTER & co).
type Fields [][2]string

// Get returns the value of key k ("" if absent).
func (f Fields) Get(k string) string {
	for _, kv := range f {
		if kv[0] == k {
			return kv[1]
		}
	}
	return ""
}

// CmdError is a command-layer error; Error() is the full RESP error text
// without the leading '-' (e.g. "ERR No such master with that name").
type CmdError string

func (e CmdError) Error() string { return string(e) }

const errNoSuchMaster = CmdError("ERR No such master with that name")

func (n *Node) flags(i *Instance) string {
	var f []string
	add := func(c bool, s string) {
		if c {
			f = append(f, s)
		}
	}
	m := i.owner
	add(i.sdown, "s_down")
	add(i.kind == KindMaster && m.odown, "o_down")
	add(i.kind == KindMaster, "master")
	add(i.kind == KindReplica, "slave")
	add(i.kind == KindSentinel, "sentinel")
	add(!i.cmd.connected, "disconnected")
	add(i.kind == KindSentinel && i.masterDown, "master_down")
	add(i.kind == KindMaster && m.inFailover, "failover_in_progress")
	add(i.promotedFlag, "promoted")
	add(i.reconfSent, "reconf_sent")
	add(i.reconfInprog, "reconf_inprog")
	add(i.reconfDone, "reconf_done")
	add(i.kind == KindMaster && m.forceFailover, "force_failover")
	add(i.scriptKillSent, "script_kill_sent")
	add(i.rebootFlag, "master_reboot")
	return strings.Join(f, ",")
}

func (n *Node) fields(i *Instance) Fields {
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	m := i.owner
	f := Fields{{"name", i.name}, {"ip", i.addr.IP}, {"port", strconv.Itoa(i.addr.Port)}}
	runid := i.runid
	f = append(f, [2]string{"runid", runid}, [2]string{"flags", n.flags(i)},
		[2]string{"link-pending-commands", strconv.Itoa(i.cmd.pending)}, [2]string{"link-refcount", "1"})
	if i.kind == KindMaster && m.failoverState != FailoverNone {
		f = append(f, [2]string{"failover-state", m.failoverState.String()})
	}
	lastPingSent := int64(0)
	if i.cmd.actPing != 0 {
		lastPingSent = n.now - i.cmd.actPing
	}
	f = append(f, [2]string{"last-ping-sent", i64(lastPingSent)},
		[2]string{"last-ok-ping-reply", i64(n.now - i.cmd.lastAvail)},
		[2]string{"last-ping-reply", i64(n.now - i.cmd.lastPong)})
	if i.sdown {
		f = append(f, [2]string{"s-down-time", i64(n.now - i.sdownT)})
	}
	if i.kind == KindMaster && m.odown {
		f = append(f, [2]string{"o-down-time", i64(n.now - m.odownSince)})
	}
	f = append(f, [2]string{"down-after-milliseconds", i64(m.DownAfter)})
	if i.kind != KindSentinel {
		ir := int64(0)
		if i.infoRefresh != 0 {
			ir = n.now - i.infoRefresh
		}
		f = append(f, [2]string{"info-refresh", i64(ir)},
			[2]string{"role-reported", i.roleReported.String()},
			[2]string{"role-reported-time", i64(n.now - i.roleReportedT)})
	}
	switch i.kind {
	case KindMaster:
		f = append(f, [2]string{"config-epoch", strconv.FormatUint(m.ConfigEpoch, 10)},
			[2]string{"num-slaves", strconv.Itoa(len(m.replicas))},
			[2]string{"num-other-sentinels", strconv.Itoa(len(m.sentinels))},
			[2]string{"quorum", strconv.Itoa(m.Quorum)},
			[2]string{"failover-timeout", i64(m.FailoverTimeout)},
			[2]string{"parallel-syncs", strconv.Itoa(m.ParallelSyncs)})
		if m.NotificationScript != "" {
			f = append(f, [2]string{"notification-script", m.NotificationScript})
		}
		if m.ClientReconfigScript != "" {
			f = append(f, [2]string{"client-reconfig-script", m.ClientReconfigScript})
		}
	case KindReplica:
		ls := "err"
		if i.masterLinkUp {
			ls = "ok"
		}
		ann := "0"
		if i.replicaAnnounced {
			ann = "1"
		}
		f = append(f, [2]string{"master-link-down-time", i64(i.masterLinkDownTime)},
			[2]string{"master-link-status", ls},
			[2]string{"master-host", i.slaveMasterHost},
			[2]string{"master-port", strconv.Itoa(i.slaveMasterPort)},
			[2]string{"slave-priority", strconv.Itoa(i.slavePriority)},
			[2]string{"slave-repl-offset", i64(i.replOffset)},
			[2]string{"replica-announced", ann})
	case KindSentinel:
		vl := i.leader
		if vl == "" {
			vl = "?"
		}
		f = append(f, [2]string{"last-hello-message", i64(n.now - i.lastHello)},
			[2]string{"voted-leader", vl},
			[2]string{"voted-leader-epoch", strconv.FormatUint(i.leaderEpoch, 10)})
	}
	return f
}

// Masters returns SENTINEL MASTERS data.
func (n *Node) Masters() []Fields {
	out := make([]Fields, 0, len(n.st.masters))
	for _, m := range n.st.masters {
		out = append(out, n.fields(&m.Instance))
	}
	return out
}

// Master returns SENTINEL MASTER <name> data.
func (n *Node) Master(name string) (Fields, error) {
	m := n.st.Master(name)
	if m == nil {
		return nil, errNoSuchMaster
	}
	return n.fields(&m.Instance), nil
}

// Replicas returns SENTINEL REPLICAS <name> data (replicas with
// replica-announced 0 are hidden, as in Redis 7.0).
func (n *Node) Replicas(name string) ([]Fields, error) {
	m := n.st.Master(name)
	if m == nil {
		return nil, errNoSuchMaster
	}
	var out []Fields
	for _, r := range m.replicas {
		if r.replicaAnnounced {
			out = append(out, n.fields(r))
		}
	}
	return out, nil
}

// Sentinels returns SENTINEL SENTINELS <name> data.
func (n *Node) Sentinels(name string) ([]Fields, error) {
	m := n.st.Master(name)
	if m == nil {
		return nil, errNoSuchMaster
	}
	var out []Fields
	for _, s := range m.sentinels {
		out = append(out, n.fields(s))
	}
	return out, nil
}

// GetMasterAddrByName returns the current master address (the promoted
// replica once a failover reached reconf_slaves). ok=false → null reply.
func (n *Node) GetMasterAddrByName(name string) (Addr, bool) {
	m := n.st.Master(name)
	if m == nil {
		return Addr{}, false
	}
	return m.currentMasterAddr(), true
}

// CkQuorum implements SENTINEL CKQUORUM: on success it returns the status
// text ("OK 3 usable Sentinels. ..."), else a CmdError "NOQUORUM ...".
func (n *Node) CkQuorum(name string) (string, error) {
	m := n.st.Master(name)
	if m == nil {
		return "", errNoSuchMaster
	}
	voters := len(m.sentinels) + 1
	usable := 1
	for _, s := range m.sentinels {
		if s.sdown || !s.cmd.connected {
			continue
		}
		usable++
	}
	noQuorum := usable < m.Quorum
	noAuth := usable < voters/2+1
	if !noQuorum && !noAuth {
		return "OK " + strconv.Itoa(usable) + " usable Sentinels. Quorum and failover authorization can be reached", nil
	}
	e := "NOQUORUM " + strconv.Itoa(usable) + " usable Sentinels. "
	if noQuorum {
		e += "Not enough available Sentinels to reach the specified quorum for this master"
	}
	if noAuth {
		if noQuorum {
			e += ". "
		}
		e += "Not enough available Sentinels to reach the majority and authorize a failover"
	}
	return "", CmdError(e)
}

// Failover implements SENTINEL FAILOVER <name>: a forced failover that skips
// the ODOWN/agreement requirements.
func (n *Node) Failover(name string) error {
	m := n.st.Master(name)
	if m == nil {
		return errNoSuchMaster
	}
	if m.inFailover {
		return CmdError("INPROG Failover already in progress")
	}
	if n.selectReplica(m) == nil {
		return CmdError("NOGOODSLAVE No suitable replica to promote")
	}
	n.startFailover(m)
	m.forceFailover = true
	return nil
}

// Reset implements SENTINEL RESET <pattern>; returns the number of masters reset.
func (n *Node) Reset(pattern string) int {
	c := 0
	for _, m := range n.st.masters {
		if globMatch(pattern, m.name, false) {
			n.resetMaster(m, true, true)
			c++
		}
	}
	if c > 0 {
		n.markDirty()
	}
	return c
}

// Monitor implements SENTINEL MONITOR name ip port quorum.
func (n *Node) Monitor(name, ip, port, quorum string) error {
	q, err := strconv.ParseInt(quorum, 10, 64)
	if err != nil {
		return CmdError("ERR Invalid quorum")
	}
	if q <= 0 {
		return CmdError("ERR Quorum must be 1 or greater.")
	}
	p, err := strconv.ParseInt(port, 10, 64)
	if err != nil {
		return CmdError("ERR value is not an integer or out of range")
	}
	if n.st.Master(name) != nil {
		return CmdError("ERR Duplicate master name.")
	}
	if !validPort(int(p)) {
		return CmdError("ERR Invalid port number.")
	}
	m := newMaster(name, Addr{ip, int(p)}, int(q))
	n.initInstance(&m.Instance)
	n.st.addMaster(m)
	n.markDirty()
	n.eventAt(LevelWarning, EvMonitor, &m.Instance, " quorum "+strconv.Itoa(m.Quorum), 0)
	return nil
}

// Remove implements SENTINEL REMOVE name.
func (n *Node) Remove(name string) error {
	m := n.st.Master(name)
	if m == nil {
		return errNoSuchMaster
	}
	n.eventAt(LevelWarning, EvMonitorExit, &m.Instance, "", 0)
	n.resetMaster(m, true, false)
	n.dropInstance(&m.Instance)
	n.st.removeMaster(m)
	n.markDirty()
	return nil
}

// Set implements SENTINEL SET name option value [option value ...].
func (n *Node) Set(name string, args ...string) error {
	m := n.st.Master(name)
	if m == nil {
		return errNoSuchMaster
	}
	changes := 0
	defer func() {
		if changes > 0 {
			n.markDirty()
		}
	}()
	for j := 0; j < len(args); j++ {
		opt := strings.ToLower(args[j])
		moreargs := len(args) - 1 - j
		bad := func(v string) error {
			return CmdError("ERR Invalid argument '" + v + "' for SENTINEL SET '" + args[j] + "'")
		}
		num := func(v string) (int64, bool) {
			x, err := strconv.ParseInt(v, 10, 64)
			return x, err == nil
		}
		if moreargs < 1 || (opt == "rename-command" && moreargs < 2) {
			return CmdError("ERR Unknown option or number of arguments for SENTINEL SET '" + args[j] + "'")
		}
		v := args[j+1]
		switch opt {
		case "down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum":
			x, ok := num(v)
			if !ok || x <= 0 {
				return bad(v)
			}
			switch opt {
			case "down-after-milliseconds":
				m.DownAfter = x
			case "failover-timeout":
				m.FailoverTimeout = x
			case "parallel-syncs":
				m.ParallelSyncs = int(x)
			case "quorum":
				m.Quorum = int(x)
			}
		case "master-reboot-down-after-period":
			x, ok := num(v)
			if !ok || x < 0 {
				return bad(v)
			}
			m.RebootDownAfter = x
		case "notification-script", "client-reconfig-script":
			if n.st.DenyScriptsReconfig {
				return CmdError("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your config file for more info.")
			}
			if opt == "notification-script" {
				m.NotificationScript = v
			} else {
				m.ClientReconfigScript = v
			}
		case "auth-pass":
			m.AuthPass = v
		case "auth-user":
			m.AuthUser = v
		case "rename-command":
			if m.RenamedCommands == nil {
				m.RenamedCommands = map[string]string{}
			}
			m.RenamedCommands[strings.ToLower(v)] = args[j+2]
			changes++
			n.eventAt(LevelWarning, EvSet, &m.Instance, " "+args[j]+" "+v+" "+args[j+2], 0)
			j += 2
			continue
		default:
			return CmdError("ERR Unknown option or number of arguments for SENTINEL SET '" + args[j] + "'")
		}
		changes++
		n.eventAt(LevelWarning, EvSet, &m.Instance, " "+args[j]+" "+v, 0)
		j++
	}
	return nil
}

// globMatch is a small Redis-style glob matcher (*, ?, [...], \x).
func globMatch(p, s string, nocase bool) bool {
	if nocase {
		p, s = strings.ToLower(p), strings.ToLower(s)
	}
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for k := 0; k <= len(s); k++ {
				if globMatch(p[1:], s[k:], false) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			s = s[1:]
			p = p[1:]
		case '[':
			if len(s) == 0 {
				return false
			}
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			match := false
			for len(p) > 0 && p[0] != ']' {
				if p[0] == '\\' && len(p) >= 2 {
					match = match || p[1] == s[0]
					p = p[2:]
				} else if len(p) >= 3 && p[1] == '-' && p[2] != ']' {
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					match = match || (s[0] >= lo && s[0] <= hi)
					p = p[3:]
				} else {
					match = match || p[0] == s[0]
					p = p[1:]
				}
			}
			if len(p) > 0 {
				p = p[1:]
			}
			if match == not {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
			s = s[1:]
			p = p[1:]
		}
	}
	return len(s) == 0
}
