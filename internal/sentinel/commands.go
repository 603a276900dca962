package sentinel

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/sentinel/core"
)

// The commands redis-sentinel 7.0 serves (COMMAND LIST on a real one). In
// sentinel mode the command table is reduced to these, as Redis's
// populateCommandTable does, so anything else gets
// "ERR unknown command '...', with args beginning with: ...".
var sentinelCommandNames = []string{"acl", "auth", "client", "command", "hello", "info", "ping",
	"psubscribe", "publish", "punsubscribe", "role", "sentinel", "shutdown", "subscribe", "unsubscribe"}

// installCommands replaces the process-wide command table with the sentinel
// one. It is only called in a process running in sentinel mode.
func installCommands(s *Sentinel) {
	old := commands.Table
	nt := map[string]*commands.Command{}
	for _, name := range sentinelCommandNames {
		if c := old[name]; c != nil {
			cp := *c
			cp.Flags |= commands.Sentinel
			nt[name] = &cp
		}
	}
	commands.ReplaceTable(nt)
	info := &commands.Command{Name: "info", Arity: -1, Flags: commands.Loading | commands.Stale | commands.Sentinel,
		Proc: s.infoCommand, Group: "server", Since: "1.0.0", Categories: "@slow @dangerous"}
	role := &commands.Command{Name: "role", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.Sentinel,
		Proc: s.roleCommand, Group: "server", Since: "2.8.12", Categories: "@admin @fast @dangerous"}
	publish := &commands.Command{Name: "publish", Arity: 3, Flags: commands.PubSub | commands.Loading | commands.Stale | commands.Fast | commands.MayReplicate | commands.Sentinel,
		Proc: s.publishCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @fast"}
	const sf = commands.Admin | commands.Sentinel | commands.OnlySentinel
	sub := func(name string, arity int, proc func(*commands.Ctx)) *commands.Command {
		return &commands.Command{Name: name, Arity: arity, Flags: sf, Proc: proc, Categories: "@admin @slow @dangerous"}
	}
	sentinel := &commands.Command{Name: "sentinel", Arity: -2, Flags: sf, Group: "sentinel", Since: "2.8.4", Categories: "@admin @slow @dangerous",
		Sub: map[string]*commands.Command{
			"ckquorum":                sub("ckquorum", 3, s.ckquorum),
			"config":                  sub("config", -3, s.configCmd),
			"debug":                   sub("debug", -2, s.debugCmd),
			"failover":                sub("failover", 3, s.failover),
			"flushconfig":             sub("flushconfig", 2, s.flushconfig),
			"get-master-addr-by-name": sub("get-master-addr-by-name", 3, s.getMasterAddr),
			"help":                    sub("help", 2, s.help),
			"info-cache":              sub("info-cache", -3, s.infoCacheCmd),
			"is-master-down-by-addr":  sub("is-master-down-by-addr", 6, s.isMasterDown),
			"master":                  sub("master", 3, s.master),
			"masters":                 sub("masters", 2, s.masters),
			"monitor":                 sub("monitor", 6, s.monitor),
			"myid":                    sub("myid", 2, s.myid),
			"pending-scripts":         sub("pending-scripts", 2, s.pendingScripts),
			"remove":                  sub("remove", 3, s.remove),
			"replicas":                sub("replicas", 3, s.replicas),
			"reset":                   sub("reset", 3, s.reset),
			"sentinels":               sub("sentinels", 3, s.sentinels),
			"set":                     sub("set", -5, s.set),
			"simulate-failure":        sub("simulate-failure", -3, s.simulateFailure),
			"slaves":                  sub("slaves", 3, s.replicas),
		}}
	commands.Register(info, role, publish, sentinel)
}

// locked runs fn on the core under s.mu, collects its outputs (performing a
// PersistState at once) and wakes the driver for the rest.
func (s *Sentinel) locked(fn func(n *core.Node)) {
	s.mu.Lock()
	fn(s.node)
	s.collectLocked()
	queued := len(s.outbox) > 0
	s.mu.Unlock()
	if queued {
		s.wake()
	}
}

func writeFields(w *resp.Writer, f core.Fields) {
	w.MapLen(len(f))
	for _, kv := range f {
		w.BulkString(kv[0])
		w.BulkString(kv[1])
	}
}

func writeFieldsList(w *resp.Writer, l []core.Fields) {
	w.ArrayLen(len(l))
	for _, f := range l {
		writeFields(w, f)
	}
}

func str(ctx *commands.Ctx, i int) string { return string(ctx.Args[i]) }

func (s *Sentinel) masters(ctx *commands.Ctx) {
	var l []core.Fields
	s.locked(func(n *core.Node) { l = n.Masters() })
	writeFieldsList(ctx.W, l)
}

func (s *Sentinel) master(ctx *commands.Ctx) {
	var f core.Fields
	var err error
	s.locked(func(n *core.Node) { f, err = n.Master(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	writeFields(ctx.W, f)
}

func (s *Sentinel) replicas(ctx *commands.Ctx) {
	var l []core.Fields
	var err error
	s.locked(func(n *core.Node) { l, err = n.Replicas(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	writeFieldsList(ctx.W, l)
}

func (s *Sentinel) sentinels(ctx *commands.Ctx) {
	var l []core.Fields
	var err error
	s.locked(func(n *core.Node) { l, err = n.Sentinels(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	writeFieldsList(ctx.W, l)
}

func (s *Sentinel) getMasterAddr(ctx *commands.Ctx) {
	var a core.Addr
	var ok bool
	s.locked(func(n *core.Node) { a, ok = n.GetMasterAddrByName(str(ctx, 2)) })
	if !ok {
		ctx.W.NullArray()
		return
	}
	ctx.W.ArrayLen(2)
	ctx.W.BulkString(a.IP)
	ctx.W.BulkString(strconv.Itoa(a.Port))
}

func (s *Sentinel) ckquorum(ctx *commands.Ctx) {
	var msg string
	var err error
	s.locked(func(n *core.Node) { msg, err = n.CkQuorum(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	ctx.W.Simple(msg)
}

func (s *Sentinel) failover(ctx *commands.Ctx) {
	var err error
	s.locked(func(n *core.Node) { err = n.Failover(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	ctx.W.OK()
}

func (s *Sentinel) reset(ctx *commands.Ctx) {
	var c int
	s.locked(func(n *core.Node) { c = n.Reset(str(ctx, 2)) })
	ctx.W.Int(int64(c))
}

func (s *Sentinel) remove(ctx *commands.Ctx) {
	var err error
	s.locked(func(n *core.Node) { err = n.Remove(str(ctx, 2)) })
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	ctx.W.OK()
}

func (s *Sentinel) myid(ctx *commands.Ctx) {
	var id string
	s.locked(func(n *core.Node) { id = n.State().MyID })
	ctx.W.BulkString(id)
}

func (s *Sentinel) flushconfig(ctx *commands.Ctx) {
	var err error
	s.locked(func(n *core.Node) { err = s.flushConfigLocked() })
	if err != nil {
		ctx.W.Error("ERR Failed to save config file. Check server logs.")
		return
	}
	ctx.W.OK()
}

func (s *Sentinel) monitor(ctx *commands.Ctx) {
	name, ip := str(ctx, 2), str(ctx, 3)
	quorum, err := strconv.ParseInt(str(ctx, 5), 10, 64)
	if err != nil {
		ctx.W.Error("ERR Invalid quorum")
		return
	}
	port, err := strconv.ParseInt(str(ctx, 4), 10, 64)
	if err != nil {
		ctx.W.Error("ERR Invalid port")
		return
	}
	if quorum <= 0 {
		ctx.W.Error("ERR Quorum must be 1 or greater.")
		return
	}
	var resolve bool
	s.locked(func(n *core.Node) { resolve = n.State().ResolveHostnames })
	if net.ParseIP(ip) == nil {
		ok := false
		if resolve {
			if addrs, err := net.LookupHost(ip); err == nil && len(addrs) > 0 {
				ok = true
			}
		}
		if !ok {
			ctx.W.Error("ERR Invalid IP address or hostname specified")
			return
		}
	}
	s.locked(func(n *core.Node) {
		err = n.Monitor(name, ip, strconv.FormatInt(port, 10), strconv.FormatInt(quorum, 10))
	})
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	ctx.W.OK()
}

func (s *Sentinel) set(ctx *commands.Ctx) {
	name := str(ctx, 2)
	args := make([]string, 0, len(ctx.Args)-3)
	for _, a := range ctx.Args[3:] {
		args = append(args, string(a))
	}
	var err error
	s.locked(func(n *core.Node) {
		st := n.State()
		if st.Master(name) != nil && !st.DenyScriptsReconfig {
			// The core leaves the X_OK check of script paths to the shell.
			for j := 0; j+1 < len(args); j++ {
				opt := strings.ToLower(args[j])
				if opt == "rename-command" {
					j += 2
					continue
				}
				if (opt == "notification-script" || opt == "client-reconfig-script") && args[j+1] != "" && !executable(args[j+1]) {
					if opt == "notification-script" {
						err = core.CmdError("ERR Notification script seems non existing or non executable")
					} else {
						err = core.CmdError("ERR Client reconfiguration script seems non existing or non executable")
					}
					// Apply the options before this one, as Redis does.
					if j > 0 {
						n.Set(name, args[:j]...)
					}
					return
				}
				j++
			}
		}
		err = n.Set(name, args...)
	})
	if err != nil {
		ctx.W.Error(err.Error())
		return
	}
	ctx.W.OK()
}

func (s *Sentinel) isMasterDown(ctx *commands.Ctx) {
	port, err := strconv.ParseInt(str(ctx, 3), 10, 64)
	if err != nil {
		ctx.W.Error("ERR value is not an integer or out of range")
		return
	}
	epoch, err := strconv.ParseInt(str(ctx, 4), 10, 64)
	if err != nil {
		ctx.W.Error("ERR value is not an integer or out of range")
		return
	}
	var down int
	var leader string
	var le uint64
	// The vote's PersistState is performed inside locked, before replying.
	s.locked(func(n *core.Node) {
		down, leader, le, _ = n.HandleIsMasterDownByAddr(str(ctx, 2), int(port), uint64(epoch), str(ctx, 5))
	})
	if leader == "" {
		leader = "*"
	}
	ctx.W.ArrayLen(3)
	ctx.W.Int(int64(down))
	ctx.W.BulkString(leader)
	ctx.W.Int(int64(le))
}

func (s *Sentinel) infoCacheCmd(ctx *commands.Ctx) {
	type group struct {
		name  string
		insts []core.Addr
	}
	var groups []group
	s.locked(func(n *core.Node) {
		st := n.State()
		var ms []*core.Master
		if len(ctx.Args) > 2 {
			seen := map[string]bool{}
			for _, a := range ctx.Args[2:] {
				if m := st.Master(string(a)); m != nil && !seen[m.Name()] {
					seen[m.Name()] = true
					ms = append(ms, m)
				}
			}
		} else {
			ms = st.Masters()
		}
		for _, m := range ms {
			g := group{name: m.Name(), insts: []core.Addr{m.Addr()}}
			for _, r := range m.Replicas() {
				g.insts = append(g.insts, r.Addr())
			}
			groups = append(groups, g)
		}
	})
	now := time.Now()
	w := ctx.W
	w.ArrayLen(len(groups) * 2)
	for _, g := range groups {
		w.BulkString(g.name)
		w.ArrayLen(len(g.insts))
		for _, a := range g.insts {
			w.ArrayLen(2)
			if e, ok := s.cachedInfo(a); ok {
				w.Int(now.Sub(e.at).Milliseconds())
				w.BulkString(e.text)
			} else {
				w.Int(0)
				w.Null()
			}
		}
	}
}

func (s *Sentinel) pendingScripts(ctx *commands.Ctx) {
	w := ctx.W
	ps := s.scripts.pending()
	w.ArrayLen(len(ps))
	for _, p := range ps {
		w.MapLen(5)
		w.BulkString("argv")
		w.ArrayLen(len(p.argv))
		for _, a := range p.argv {
			w.BulkString(a)
		}
		w.BulkString("flags")
		if p.running {
			w.BulkString("running")
		} else {
			w.BulkString("scheduled")
		}
		w.BulkString("pid")
		w.BulkString(strconv.Itoa(p.pid))
		if p.running {
			w.BulkString("run-time")
		} else {
			w.BulkString("run-delay")
		}
		w.BulkString(itoa(p.ms))
		w.BulkString("retry-num")
		w.BulkString(strconv.Itoa(p.retryNum))
	}
}

func (s *Sentinel) simulateFailure(ctx *commands.Ctx) {
	flags := int32(0)
	s.simFlags.Store(0) // Redis clears the flags first
	for _, a := range ctx.Args[2:] {
		switch strings.ToLower(string(a)) {
		case "crash-after-election":
			flags |= simCrashAfterElection
			s.log.Warn("Failure simulation: this Sentinel will crash after being successfully elected as failover leader")
		case "crash-after-promotion":
			flags |= simCrashAfterPromotion
			s.log.Warn("Failure simulation: this Sentinel will crash after promoting the selected replica to master")
		case "help":
			ctx.W.ArrayLen(2)
			ctx.W.BulkString("crash-after-election")
			ctx.W.BulkString("crash-after-promotion")
			return
		default:
			ctx.W.Error("ERR Unknown failure simulation specified")
			return
		}
		s.simFlags.Store(flags)
	}
	ctx.W.OK()
}

// debugParams are SENTINEL DEBUG's parameters in Redis's order. vigil's core
// uses Redis's constants; only the script parameters can be changed.
var debugParams = []struct {
	name string
	def  int64
}{
	{"INFO-PERIOD", core.InfoPeriod}, {"PING-PERIOD", core.PingPeriod}, {"ASK-PERIOD", core.AskPeriod},
	{"PUBLISH-PERIOD", core.PublishPeriod}, {"DEFAULT-DOWN-AFTER", core.DefaultDownAfter},
	{"DEFAULT-FAILOVER-TIMEOUT", core.DefaultFailoverTimeout}, {"TILT-TRIGGER", core.TiltTrigger},
	{"TILT-PERIOD", core.TiltPeriod}, {"SLAVE-RECONF-TIMEOUT", core.SlaveReconfTimeout},
	{"MIN-LINK-RECONNECT-PERIOD", core.MinLinkReconnectPeriod}, {"ELECTION-TIMEOUT", core.ElectionTimeout},
	{"SCRIPT-MAX-RUNTIME", 60000}, {"SCRIPT-RETRY-DELAY", 30000},
}

func (s *Sentinel) debugCmd(ctx *commands.Ctx) {
	w := ctx.W
	if len(ctx.Args) == 2 {
		w.MapLen(len(debugParams))
		for _, p := range debugParams {
			w.BulkString(p.name)
			var v int64
			switch p.name {
			case "SCRIPT-MAX-RUNTIME":
				v = scriptMaxRuntime.Load()
			case "SCRIPT-RETRY-DELAY":
				v = scriptRetryDelay.Load()
			default:
				s.mu.Lock()
				x, ok := s.debug[p.name]
				s.mu.Unlock()
				v = p.def
				if ok {
					v = x
				}
			}
			w.BulkString(itoa(v))
		}
		return
	}
	args := ctx.Args[2:]
	type kv struct {
		name string
		v    int64
	}
	var sets []kv
	for j := 0; j < len(args); j += 2 {
		opt := strings.ToUpper(string(args[j]))
		known := false
		for _, p := range debugParams {
			if p.name == opt {
				known = true
			}
		}
		if !known || j+1 >= len(args) {
			w.Error("ERR Unknown option or number of arguments for SENTINEL DEBUG '" + string(args[j]) + "'")
			return
		}
		v, err := strconv.ParseInt(string(args[j+1]), 10, 64)
		if err != nil || v <= 0 {
			w.Error("ERR Invalid argument '" + string(args[j+1]) + "' for SENTINEL DEBUG '" + string(args[j]) + "'")
			return
		}
		sets = append(sets, kv{opt, v})
	}
	for _, x := range sets {
		switch x.name {
		case "SCRIPT-MAX-RUNTIME":
			scriptMaxRuntime.Store(x.v)
		case "SCRIPT-RETRY-DELAY":
			scriptRetryDelay.Store(x.v)
		default:
			// Displayed only: the core's timing constants are fixed.
			s.mu.Lock()
			s.debug[x.name] = x.v
			s.mu.Unlock()
		}
	}
	w.OK()
}

var configParams = []string{"resolve-hostnames", "announce-hostnames", "announce-ip", "announce-port", "sentinel-user", "sentinel-pass"}

func (s *Sentinel) configCmd(ctx *commands.Ctx) {
	if len(ctx.Args) < 4 {
		ctx.W.Error(commands.WrongArity("sentinel|config"))
		return
	}
	switch strings.ToLower(str(ctx, 2)) {
	case "get":
		s.configGet(ctx, str(ctx, 3))
	case "set":
		if len(ctx.Args) < 5 {
			ctx.W.Error("ERR Only SENTINEL CONFIG GET <param> / SET <param> <value> are supported.")
			return
		}
		s.configSet(ctx, str(ctx, 3), str(ctx, 4))
	default:
		ctx.W.Error("ERR Only SENTINEL CONFIG GET <param> / SET <param> <value> are supported.")
	}
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (s *Sentinel) configGet(ctx *commands.Ctx, pattern string) {
	var out [][2]string
	s.locked(func(n *core.Node) {
		st := n.State()
		vals := map[string]string{
			"resolve-hostnames": yesno(st.ResolveHostnames), "announce-hostnames": yesno(st.AnnounceHostnames),
			"announce-ip": st.AnnounceIP, "announce-port": strconv.Itoa(st.AnnouncePort),
			"sentinel-user": st.SentinelUser, "sentinel-pass": st.SentinelPass,
		}
		for _, p := range configParams {
			if commands.Match([]byte(pattern), []byte(p), true) {
				out = append(out, [2]string{p, vals[p]})
			}
		}
	})
	ctx.W.MapLen(len(out))
	for _, kv := range out {
		ctx.W.BulkString(kv[0])
		ctx.W.BulkString(kv[1])
	}
}

func (s *Sentinel) configSet(ctx *commands.Ctx, opt, val string) {
	bad := func() { ctx.W.Error("ERR Invalid value '" + val + "' to SENTINEL CONFIG SET '" + opt + "'") }
	yn := func() (bool, bool) {
		switch strings.ToLower(val) {
		case "yes":
			return true, true
		case "no":
			return false, true
		}
		return false, false
	}
	var failed bool
	switch strings.ToLower(opt) {
	case "resolve-hostnames", "announce-hostnames":
		v, ok := yn()
		if !ok {
			bad()
			return
		}
		s.locked(func(n *core.Node) {
			if strings.EqualFold(opt, "resolve-hostnames") {
				n.State().ResolveHostnames = v
			} else {
				n.State().AnnounceHostnames = v
			}
			failed = s.flushConfigLocked() != nil
		})
	case "announce-ip":
		s.locked(func(n *core.Node) { n.State().AnnounceIP = val; failed = s.flushConfigLocked() != nil })
	case "announce-port":
		p, err := strconv.ParseInt(val, 10, 64)
		if err != nil || p < 0 || p > 65535 {
			bad()
			return
		}
		s.locked(func(n *core.Node) { n.State().AnnouncePort = int(p); failed = s.flushConfigLocked() != nil })
	case "sentinel-user":
		s.locked(func(n *core.Node) { n.State().SentinelUser = val; failed = s.flushConfigLocked() != nil })
	case "sentinel-pass":
		s.locked(func(n *core.Node) { n.State().SentinelPass = val; failed = s.flushConfigLocked() != nil })
	default:
		ctx.W.Error("ERR Invalid argument '" + opt + "' to SENTINEL CONFIG SET")
		return
	}
	_ = failed
	ctx.W.OK()
}

var helpLines = []string{
	"SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CKQUORUM <master-name>",
	"    Check if the current Sentinel configuration is able to reach the quorum",
	"    needed to failover a master and the majority needed to authorize the",
	"    failover.",
	"CONFIG SET <param> <value>",
	"    Set a global Sentinel configuration parameter.",
	"CONFIG GET <param>",
	"    Get global Sentinel configuration parameter.",
	"DEBUG [<param> <value> ...]",
	"    Show a list of configurable time parameters and their values (milliseconds).",
	"    Or update current configurable parameters values (one or more).",
	"GET-MASTER-ADDR-BY-NAME <master-name>",
	"    Return the ip and port number of the master with that name.",
	"FAILOVER <master-name>",
	"    Manually failover a master node without asking for agreement from other",
	"    Sentinels",
	"FLUSHCONFIG",
	"    Force Sentinel to rewrite its configuration on disk, including the current",
	"    Sentinel state.",
	"INFO-CACHE <master-name>",
	"    Return last cached INFO output from masters and all its replicas.",
	"IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
	"    Check if the master specified by ip:port is down from current Sentinel's",
	"    point of view.",
	"MASTER <master-name>",
	"    Show the state and info of the specified master.",
	"MASTERS",
	"    Show a list of monitored masters and their state.",
	"MONITOR <name> <ip> <port> <quorum>",
	"    Start monitoring a new master with the specified name, ip, port and quorum.",
	"MYID",
	"    Return the ID of the Sentinel instance.",
	"PENDING-SCRIPTS",
	"    Get pending scripts information.",
	"REMOVE <master-name>",
	"    Remove master from Sentinel's monitor list.",
	"REPLICAS <master-name>",
	"    Show a list of replicas for this master and their state.",
	"RESET <pattern>",
	"    Reset masters for specific master name matching this pattern.",
	"SENTINELS <master-name>",
	"    Show a list of Sentinel instances for this master and their state.",
	"SET <master-name> <option> <value> [<option> <value> ...]",
	"    Set configuration parameters for certain masters.",
	"SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
	"    Simulate a Sentinel crash.",
	"HELP",
	"    Prints this help.",
}

func (s *Sentinel) help(ctx *commands.Ctx) {
	ctx.W.ArrayLen(len(helpLines))
	for _, l := range helpLines {
		ctx.W.Simple(l)
	}
}

// ---------------------------------------------------------------------------
// INFO, ROLE, PUBLISH in sentinel mode

var infoSections = []string{"server", "clients", "stats", "cpu", "sentinel"}

func (s *Sentinel) infoCommand(ctx *commands.Ctx) {
	sel := map[string]bool{}
	if len(ctx.Args) == 1 {
		for _, x := range infoSections {
			sel[x] = true
		}
	}
	for _, a := range ctx.Args[1:] {
		switch w := strings.ToLower(string(a)); w {
		case "all", "everything", "default":
			for _, x := range infoSections {
				sel[x] = true
			}
		default:
			sel[w] = true
		}
	}
	var b strings.Builder
	for _, name := range infoSections {
		if !sel[name] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		if name == "sentinel" {
			s.infoSentinel(&b)
		} else {
			b.WriteString(s.srv.Info(name))
		}
	}
	ctx.W.Verbatim([]byte(b.String()))
}

func (s *Sentinel) infoSentinel(b *strings.Builder) {
	running, queued := s.scripts.stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.node.State()
	tilt, since := 0, int64(-1)
	if s.node.InTilt() {
		tilt = 1
		since = int64(time.Since(s.tiltSince).Seconds())
	}
	b.WriteString("# Sentinel\r\n")
	b.WriteString("sentinel_masters:" + strconv.Itoa(len(st.Masters())) + "\r\n")
	b.WriteString("sentinel_tilt:" + strconv.Itoa(tilt) + "\r\n")
	b.WriteString("sentinel_tilt_since_seconds:" + itoa(since) + "\r\n")
	b.WriteString("sentinel_running_scripts:" + strconv.Itoa(running) + "\r\n")
	b.WriteString("sentinel_scripts_queue_length:" + strconv.Itoa(queued) + "\r\n")
	b.WriteString("sentinel_simulate_failure_flags:" + strconv.Itoa(int(s.simFlags.Load())) + "\r\n")
	for i, m := range st.Masters() {
		status := "ok"
		if m.ODown() {
			status = "odown"
		} else if m.SDown() {
			status = "sdown"
		}
		a := m.Addr()
		b.WriteString("master" + strconv.Itoa(i) + ":name=" + m.Name() + ",status=" + status + ",address=" + a.IP + ":" + strconv.Itoa(a.Port) +
			",slaves=" + strconv.Itoa(len(m.Replicas())) + ",sentinels=" + strconv.Itoa(len(m.Sentinels())+1) + "\r\n")
	}
}

func (s *Sentinel) roleCommand(ctx *commands.Ctx) {
	var names []string
	s.locked(func(n *core.Node) {
		for _, m := range n.State().Masters() {
			names = append(names, m.Name())
		}
	})
	ctx.W.ArrayLen(2)
	ctx.W.BulkString("sentinel")
	ctx.W.ArrayLen(len(names))
	for _, n := range names {
		ctx.W.BulkString(n)
	}
}

func (s *Sentinel) publishCommand(ctx *commands.Ctx) {
	if str(ctx, 1) != core.HelloChannel {
		ctx.W.Error("ERR Only HELLO messages are accepted by Sentinel instances.")
		return
	}
	payload := str(ctx, 2)
	s.locked(func(n *core.Node) { n.Step(core.Message{Link: 0, Channel: core.HelloChannel, Payload: payload}) })
	ctx.W.Int(1)
}
