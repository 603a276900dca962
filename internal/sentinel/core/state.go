package core

import (
	"sort"
	"strconv"
	"strings"
)

// State is the whole sentinel state: the persistent configuration (what
// ConfigLines writes) plus the runtime view of every instance. A State is
// owned by one Node; build it with ParseConfig (or NewState) and hand it to
// NewNode.
type State struct {
	MyID                string
	CurrentEpoch        uint64
	DenyScriptsReconfig bool
	ResolveHostnames    bool
	AnnounceHostnames   bool
	AnnounceIP          string
	AnnouncePort        int
	SentinelUser        string
	SentinelPass        string

	masters []*Master // sorted by name
}

// NewState returns an empty state with Redis's defaults.
func NewState() *State { return &State{DenyScriptsReconfig: true} }

// Master is a monitored master with its replicas and the other sentinels.
type Master struct {
	Instance

	Quorum               int
	DownAfter            int64
	FailoverTimeout      int64
	ParallelSyncs        int
	AuthPass             string
	AuthUser             string
	NotificationScript   string
	ClientReconfigScript string
	RebootDownAfter      int64
	ConfigEpoch          uint64
	Leader               string // runid we voted for in LeaderEpoch ("" after a reset)
	LeaderEpoch          uint64
	RenamedCommands      map[string]string

	replicas  []*Instance
	sentinels []*Instance

	odown             bool
	odownSince        int64
	inFailover        bool
	forceFailover     bool
	failoverState     FailoverState
	failoverEpoch     uint64
	failoverStart     int64
	failoverStateTime int64
	promoted          *Instance
	desyncAt          int64 // vigil: random delay before starting an election
	votedAt           int64 // vigil: when we voted for Leader (runtime)
	promotionSeenAt   int64 // vigil: last time a replica reported role:master

	// vigil safe mode (safemode.go): "sentinel vigil-safe-mode <name> yes [N]".
	SafeMode      bool
	SafeMinAck    int // N; 0: from the master's INFO (vigil_min_ack_replicas), else 1
	safeRefusedAt int64
}

// Instance is the runtime view of a master, replica or sentinel.
type Instance struct {
	kind   Kind
	name   string
	addr   Addr
	runid  string
	owner  *Master
	cmd    link
	pc     link
	hasPC  bool
	gone   bool
	sdown  bool
	sdownT int64

	// peer sentinel view
	masterDown      bool
	lastDownReply   int64
	leader          string
	leaderEpoch     uint64
	lastHello       int64
	lastPub         int64
	scriptKillSent  bool
	rebootFlag      bool
	rebootSince     int64
	infoRefresh     int64
	infoPending     bool
	infoSentT       int64
	lastAsk         int64
	roleReported    Kind
	roleReportedT   int64
	slaveConfChange int64

	// replica INFO fields
	masterLinkDownTime int64
	slaveMasterHost    string
	slaveMasterPort    int
	masterLinkUp       bool
	slavePriority      int
	replOffset         int64
	replicaAnnounced   bool
	promotedFlag       bool
	reconfSent         bool
	reconfInprog       bool
	reconfDone         bool
	reconfSentTime     int64
	vigilMinAck        int // master INFO vigil_min_ack_replicas (safe mode)

	// replication history (safe mode, safemode.go): master_replid,
	// master_replid2 and master_repl_offset from the last INFO.
	replID, replID2 string
	masterOffset    int64
	// replIDs: for a master, the last few master_replid values it reported
	// (newest last), so a replica that continues its history is recognised
	// after it restarted with a new one.
	replIDs []string
}

type link struct {
	id         LinkID
	connected  bool
	connecting bool
	connTime   int64
	lastTry    int64
	pending    int
	actPing    int64
	lastPing   int64
	lastAvail  int64
	lastPong   int64
	lastActive int64
}

// Name returns the instance name (master name, "ip:port" for replicas, runid for sentinels).
func (i *Instance) Name() string { return i.name }

// Addr returns the instance address.
func (i *Instance) Addr() Addr { return i.addr }

// RunID returns the last run id seen (INFO for redis, hello for sentinels).
func (i *Instance) RunID() string { return i.runid }

// Kind returns the role in this sentinel's view.
func (i *Instance) Kind() Kind { return i.kind }

// SDown reports subjective down.
func (i *Instance) SDown() bool { return i.sdown }

// Name of the master.
func (m *Master) Name() string { return m.name }

// ODown reports objective down.
func (m *Master) ODown() bool { return m.odown }

// FailoverState returns the current failover state.
func (m *Master) FailoverState() FailoverState { return m.failoverState }

// FailoverEpoch returns the epoch of the current/last failover attempt.
func (m *Master) FailoverEpoch() uint64 { return m.failoverEpoch }

// InFailover reports whether a failover is in progress.
func (m *Master) InFailover() bool { return m.inFailover }

// Replicas returns the known replicas in discovery order.
func (m *Master) Replicas() []*Instance { return m.replicas }

// Sentinels returns the other known sentinels in discovery order.
func (m *Master) Sentinels() []*Instance { return m.sentinels }

// Masters returns the monitored masters sorted by name.
func (s *State) Masters() []*Master { return s.masters }

// Master returns the master with the given name or nil.
func (s *State) Master(name string) *Master {
	i := sort.Search(len(s.masters), func(i int) bool { return s.masters[i].name >= name })
	if i < len(s.masters) && s.masters[i].name == name {
		return s.masters[i]
	}
	return nil
}

func (s *State) addMaster(m *Master) {
	i := sort.Search(len(s.masters), func(i int) bool { return s.masters[i].name >= m.name })
	s.masters = append(s.masters, nil)
	copy(s.masters[i+1:], s.masters[i:])
	s.masters[i] = m
}

func (s *State) removeMaster(m *Master) {
	for i, x := range s.masters {
		if x == m {
			s.masters = append(s.masters[:i], s.masters[i+1:]...)
			return
		}
	}
}

func (s *State) masterByAddr(a Addr) *Master {
	for _, m := range s.masters {
		if m.addr == a {
			return m
		}
	}
	return nil
}

func newMaster(name string, a Addr, quorum int) *Master {
	m := &Master{Quorum: quorum, DownAfter: DefaultDownAfter, FailoverTimeout: DefaultFailoverTimeout, ParallelSyncs: DefaultParallelSyncs}
	m.kind, m.name, m.addr, m.owner, m.hasPC = KindMaster, name, a, m, true
	m.roleReported = KindMaster
	return m
}

func (m *Master) replicaByAddr(a Addr) *Instance {
	for _, r := range m.replicas {
		if r.addr == a {
			return r
		}
	}
	return nil
}

func (m *Master) sentinelByRunID(id string) *Instance {
	for _, s := range m.sentinels {
		if s.runid == id {
			return s
		}
	}
	return nil
}

func (m *Master) addReplica(a Addr) *Instance {
	r := &Instance{kind: KindReplica, name: a.String(), addr: a, owner: m, hasPC: true, slavePriority: DefaultSlavePriority, replicaAnnounced: true, roleReported: KindReplica}
	m.replicas = append(m.replicas, r)
	return r
}

func (m *Master) addSentinel(runid string, a Addr) *Instance {
	s := &Instance{kind: KindSentinel, name: runid, runid: runid, addr: a, owner: m}
	m.sentinels = append(m.sentinels, s)
	return s
}

// ConfigError is returned by ParseConfig; Error() is Redis's message text.
type ConfigError struct {
	Line int // 0-based index in the input
	Args []string
	Msg  string
}

func (e *ConfigError) Error() string { return e.Msg }

func atoi(s string) int {
	// Redis uses atoi(): leading digits, 0 on garbage.
	neg := false
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

func atou64(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }

func yesno(s string) int {
	switch strings.ToLower(s) {
	case "yes":
		return 1
	case "no":
		return 0
	}
	return -1
}

func validPort(p int) bool { return p > 0 && p <= 65535 }

// ParseConfig builds a State from "sentinel ..." directive lines (the leading
// "sentinel" token is optional). Errors carry Redis 7.0's texts.
func ParseConfig(lines [][]string) (*State, error) {
	s := NewState()
	for i, l := range lines {
		if len(l) > 0 && strings.EqualFold(l[0], "sentinel") {
			l = l[1:]
		}
		if len(l) == 0 {
			continue
		}
		if msg := s.applyLine(l); msg != "" {
			return nil, &ConfigError{Line: i, Args: l, Msg: msg}
		}
	}
	return s, nil
}

func (s *State) applyLine(argv []string) string {
	argc := len(argv)
	cmd := strings.ToLower(argv[0])
	getMaster := func() (*Master, string) {
		m := s.Master(argv[1])
		if m == nil {
			return nil, "No such master with specified name."
		}
		return m, ""
	}
	switch {
	case cmd == "monitor" && argc == 5:
		q := atoi(argv[4])
		if q <= 0 {
			return "Quorum must be 1 or greater."
		}
		if s.Master(argv[1]) != nil {
			return "Duplicate master name."
		}
		p := atoi(argv[3])
		if !validPort(p) {
			return "Invalid port number."
		}
		s.addMaster(newMaster(argv[1], Addr{argv[2], p}, q))
	case (cmd == "down-after-milliseconds" || cmd == "failover-timeout") && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		v := int64(atoi(argv[2]))
		if v <= 0 {
			return "negative or zero time parameter."
		}
		if cmd == "failover-timeout" {
			m.FailoverTimeout = v
		} else {
			m.DownAfter = v
		}
	case cmd == "parallel-syncs" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		m.ParallelSyncs = atoi(argv[2])
	case (cmd == "notification-script" || cmd == "client-reconfig-script") && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		// The shell is responsible for the X_OK check (Redis: "Notification
		// script seems non existing or non executable.").
		if cmd == "notification-script" {
			m.NotificationScript = argv[2]
		} else {
			m.ClientReconfigScript = argv[2]
		}
	case cmd == "auth-pass" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		m.AuthPass = argv[2]
	case cmd == "auth-user" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		m.AuthUser = argv[2]
	case cmd == "master-reboot-down-after-period" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		v := int64(atoi(argv[2]))
		if v < 0 {
			return "negative time parameter."
		}
		m.RebootDownAfter = v
	case cmd == "current-epoch" && argc == 2:
		if e := atou64(argv[1]); e > s.CurrentEpoch {
			s.CurrentEpoch = e
		}
	case cmd == "myid" && argc == 2:
		if len(argv[1]) != RunIDSize {
			return "Malformed Sentinel id in myid option."
		}
		s.MyID = argv[1]
	case cmd == "config-epoch" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		m.ConfigEpoch = atou64(argv[2])
		if m.ConfigEpoch > s.CurrentEpoch {
			s.CurrentEpoch = m.ConfigEpoch
		}
	case cmd == "leader-epoch" && argc == 3:
		m, e := getMaster()
		if m == nil {
			return e
		}
		m.LeaderEpoch = atou64(argv[2])
	case (cmd == "known-slave" || cmd == "known-replica") && argc == 4:
		m, e := getMaster()
		if m == nil {
			return e
		}
		p := atoi(argv[3])
		if !validPort(p) {
			return "Invalid port number."
		}
		a := Addr{argv[2], p}
		if m.replicaByAddr(a) != nil {
			return "Duplicate hostname and port for replica."
		}
		m.addReplica(a)
	case cmd == "known-sentinel" && (argc == 4 || argc == 5):
		m, e := getMaster()
		if m == nil {
			return e
		}
		if argc == 5 {
			p := atoi(argv[3])
			if !validPort(p) {
				return "Invalid port number."
			}
			if m.sentinelByRunID(argv[4]) != nil {
				return "Duplicate runid for sentinel."
			}
			m.addSentinel(argv[4], Addr{argv[2], p})
		}
	case cmd == "rename-command" && argc == 4:
		m, e := getMaster()
		if m == nil {
			return e
		}
		if m.RenamedCommands == nil {
			m.RenamedCommands = map[string]string{}
		}
		m.RenamedCommands[strings.ToLower(argv[2])] = argv[3]
	case cmd == "vigil-safe-mode" && (argc == 3 || argc == 4):
		return s.applySafeMode(argv)
	case cmd == "announce-ip" && argc == 2:
		s.AnnounceIP = argv[1]
	case cmd == "announce-port" && argc == 2:
		s.AnnouncePort = atoi(argv[1])
	case cmd == "deny-scripts-reconfig" && argc == 2:
		v := yesno(argv[1])
		if v == -1 {
			return "Please specify yes or no for the deny-scripts-reconfig options."
		}
		s.DenyScriptsReconfig = v == 1
	case cmd == "sentinel-user" && argc == 2:
		s.SentinelUser = argv[1]
	case cmd == "sentinel-pass" && argc == 2:
		s.SentinelPass = argv[1]
	case cmd == "resolve-hostnames" && argc == 2:
		v := yesno(argv[1])
		if v == -1 {
			return "Please specify yes or no for the resolve-hostnames option."
		}
		s.ResolveHostnames = v == 1
	case cmd == "announce-hostnames" && argc == 2:
		v := yesno(argv[1])
		if v == -1 {
			return "Please specify yes or no for the announce-hostnames option."
		}
		s.AnnounceHostnames = v == 1
	default:
		return "Unrecognized sentinel configuration statement."
	}
	return ""
}

// currentMasterAddr is the address we advertise / persist for m: during a
// failover past the promotion, the promoted replica's.
func (m *Master) currentMasterAddr() Addr {
	if m.inFailover && m.promoted != nil && m.failoverState >= FailoverReconfSlaves {
		return m.promoted.addr
	}
	return m.addr
}

// ConfigLines returns the directives Redis 7.0 writes in the sentinel section
// of a rewritten sentinel.conf, each starting with "sentinel".
func (s *State) ConfigLines() [][]string {
	var out [][]string
	add := func(a ...string) { out = append(out, append([]string{"sentinel"}, a...)) }
	itoa := strconv.Itoa
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	if s.MyID != "" {
		add("myid", s.MyID)
	}
	if !s.DenyScriptsReconfig {
		add("deny-scripts-reconfig", "no")
	}
	if s.ResolveHostnames {
		add("resolve-hostnames", "yes")
	}
	if s.AnnounceHostnames {
		add("announce-hostnames", "yes")
	}
	for _, m := range s.masters {
		ma := m.currentMasterAddr()
		add("monitor", m.name, ma.IP, itoa(ma.Port), itoa(m.Quorum))
		if m.DownAfter != DefaultDownAfter {
			add("down-after-milliseconds", m.name, i64(m.DownAfter))
		}
		if m.FailoverTimeout != DefaultFailoverTimeout {
			add("failover-timeout", m.name, i64(m.FailoverTimeout))
		}
		if m.ParallelSyncs != DefaultParallelSyncs {
			add("parallel-syncs", m.name, itoa(m.ParallelSyncs))
		}
		if m.NotificationScript != "" {
			add("notification-script", m.name, m.NotificationScript)
		}
		if m.ClientReconfigScript != "" {
			add("client-reconfig-script", m.name, m.ClientReconfigScript)
		}
		if m.AuthPass != "" {
			add("auth-pass", m.name, m.AuthPass)
		}
		if m.AuthUser != "" {
			add("auth-user", m.name, m.AuthUser)
		}
		if m.RebootDownAfter != 0 {
			add("master-reboot-down-after-period", m.name, i64(m.RebootDownAfter))
		}
		if m.SafeMode {
			if m.SafeMinAck > 0 {
				add("vigil-safe-mode", m.name, "yes", itoa(m.SafeMinAck))
			} else {
				add("vigil-safe-mode", m.name, "yes")
			}
		}
		add("config-epoch", m.name, u(m.ConfigEpoch))
		add("leader-epoch", m.name, u(m.LeaderEpoch))
		for _, r := range m.replicas {
			if r.addr == ma {
				continue // the promoted replica is now the master
			}
			add("known-replica", m.name, r.addr.IP, itoa(r.addr.Port))
		}
		if ma != m.addr {
			// mid-failover: the old master is a replica-to-be
			if m.replicaByAddr(m.addr) == nil {
				add("known-replica", m.name, m.addr.IP, itoa(m.addr.Port))
			}
		}
		for _, x := range m.sentinels {
			if x.runid == "" {
				continue
			}
			add("known-sentinel", m.name, x.addr.IP, itoa(x.addr.Port), x.runid)
		}
		if len(m.RenamedCommands) > 0 {
			keys := make([]string, 0, len(m.RenamedCommands))
			for k := range m.RenamedCommands {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				add("rename-command", m.name, k, m.RenamedCommands[k])
			}
		}
	}
	add("current-epoch", u(s.CurrentEpoch))
	if s.AnnounceIP != "" {
		add("announce-ip", s.AnnounceIP)
	}
	if s.AnnouncePort != 0 {
		add("announce-port", itoa(s.AnnouncePort))
	}
	if s.SentinelUser != "" {
		add("sentinel-user", s.SentinelUser)
	}
	if s.SentinelPass != "" {
		add("sentinel-pass", s.SentinelPass)
	}
	return out
}
