package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// `vigil drill`: the tutorial's "simulate a failover", measured.
//
// A writer client finds the master through the Sentinels (as a
// Sentinel-aware client library does: GET-MASTER-ADDR-BY-NAME, and again
// after any error or READONLY), writes numbered keys at a steady rate and
// records every acknowledgement with its time (with --wait a write counts
// only when WAIT 1 100 says a replica has it). Meanwhile the drill follows
// every Sentinel's events, injects the fault, waits for a new master that
// all Sentinels agree on, brings the old master back (kill), waits until
// it reports role:slave of the new master, stops the writer, and reads
// every acknowledged key back from the new master.
//
// Faults: on a local topology ('vigil up' layout, which knows the PIDs)
// kill = SIGKILL of the master, stop = SIGSTOP then SIGCONT after --stall,
// kill-sentinel = SIGKILL of one Sentinel and then of the master,
// partition = DEBUG SLEEP on the master for --stall. "partition" is a
// stall (the process answers nothing, connections stay open), not a
// network partition: the old master cannot go on accepting writes from
// clients on its side. On a remote topology only the protocol is used
// (DEBUG SLEEP), after confirmation unless --yes.

var drillCmd = command{
	name: "drill",
	usage: "vigil drill [--scenario kill|stop|kill-sentinel|partition] [--rate 200] [--wait] [--json] " +
		"[--dir DIR | --sentinel HOST:PORT ...] [--master-name mymaster] [--yes]",
	summary: `Simulate a master failure under a steady write load and measure the
failover: time from the fault to each Sentinel event (+sdown, +odown,
+try-failover, +elected-leader, +promoted-slave, +switch-master, ...), the
window without an acknowledged write, acknowledged writes lost, and
whether the old master rejoined as a replica of the new one.

Scenarios (default kill):
  kill           SIGKILL the master; afterwards restart it with the command
                 line 'vigil up' uses (local topology only)
  stop           SIGSTOP the master, SIGCONT after --stall
  kill-sentinel  SIGKILL one Sentinel, then the master: failover must still
                 work with the remaining ones; both are restarted afterwards
  partition      DEBUG SLEEP on the master for --stall: a stall of the
                 process, not a network partition (works on remote
                 topologies and on Redis; a local node with DEBUG disabled
                 is stalled with SIGSTOP instead)

The writer uses the Sentinels like a client library would. With --wait
it sends WAIT 1 100 after each SET and counts a write as acknowledged only
when a replica has it: such writes must survive the failover. Without it
the loss measured is what an application without WAIT risks.

Without --sentinel the topology is the 'vigil up' layout in --dir
(./vigil-data). With --sentinel (no layout) only kill/stop with
--master-pid (a process on this machine) and partition are possible, and
the drill asks for confirmation unless --yes.

Exit status: 0 when the failover completed (and, with --wait, nothing
acknowledged was lost, and the old master rejoined), 1 otherwise.`,
	example: `vigil up --down-after 1500 &           # a local topology
vigil drill                                   # SIGKILL the master, measure, restart it
vigil drill --scenario partition --wait --json | jq .writes
vigil drill --sentinel 10.0.0.12:26379,10.0.0.13:26379,10.0.0.14:26379 --scenario partition --yes`,
}

// DrillReport is the result of a drill (--json).
type DrillReport struct {
	Scenario   string        `json:"scenario"`
	Run        string        `json:"run"`
	MasterName string        `json:"master_name"`
	OldMaster  string        `json:"old_master"`
	NewMaster  string        `json:"new_master,omitempty"`
	Promoted   bool          `json:"promoted"`
	Fault      string        `json:"fault"`
	FaultAt    time.Time     `json:"fault_at"`
	DownAfter  int64         `json:"down_after_ms"`
	Events     []DrillEvent  `json:"events"`
	FailoverMS *int64        `json:"failover_ms,omitempty"` // fault → all Sentinels name the new master
	Window     *DrillWindow  `json:"window,omitempty"`
	Writes     DrillWrites   `json:"writes"`
	Rejoin     DrillRejoin   `json:"old_master_rejoin"`
	Notes      []string      `json:"notes,omitempty"`
	OK         bool          `json:"ok"`
	Failure    string        `json:"failure,omitempty"`
	Duration   time.Duration `json:"-"`
}

// DrillEvent is one Sentinel event, timed from the fault.
type DrillEvent struct {
	AfterMS  int64  `json:"after_ms"`
	Sentinel string `json:"sentinel"`
	Event    string `json:"event"`
	Message  string `json:"message"`
}

// DrillWindow is the longest time without an acknowledged write around the
// fault, in ms relative to the fault.
type DrillWindow struct {
	MS      int64 `json:"ms"`
	StartMS int64 `json:"start_ms"` // last acknowledgement before the gap
	EndMS   int64 `json:"end_ms"`   // first acknowledgement after it
}

// DrillWrites counts the writer's work.
type DrillWrites struct {
	Rate          int      `json:"rate"`
	Wait          bool     `json:"wait"`
	Attempted     int      `json:"attempted"`
	Acknowledged  int      `json:"acknowledged"`
	Failed        int      `json:"failed"`
	NotReplicated int      `json:"not_replicated,omitempty"` // --wait: SET ok, WAIT said 0
	Lost          int      `json:"lost"`
	LostKeys      []string `json:"lost_keys,omitempty"` // the first few
	Checked       bool     `json:"checked"`
	LastError     string   `json:"last_error,omitempty"`
}

// DrillRejoin tells whether the old master came back as a replica.
type DrillRejoin struct {
	Rejoined  bool   `json:"rejoined"`
	Restarted bool   `json:"restarted"`
	AfterMS   int64  `json:"after_ms,omitempty"` // fault → role:slave of the new master
	Role      string `json:"role,omitempty"`
	Follows   string `json:"follows,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Drill runs `vigil drill`.
func Drill(args []string) int {
	if len(args) > 0 && args[0] == guardArg {
		return runGuard(args[1:])
	}
	fs := drillCmd.newFlags()
	scenario := fs.String("scenario", "kill", "fault to inject: kill, stop, kill-sentinel or partition")
	rate := fs.Int("rate", 200, "writes per second")
	waitF := fs.Bool("wait", false, "send WAIT 1 100 after each write; count only writes a replica has")
	jsonF := fs.Bool("json", false, "print the report as JSON")
	yes := fs.Bool("yes", false, "do not ask for confirmation on a remote topology")
	masterPid := fs.Int("master-pid", 0, "PID of the master process on this machine (kill/stop without a 'vigil up' layout)")
	stall := fs.Duration("stall", 0, "how long stop/partition freeze the master (default down-after + 5s)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the failover, and again for the old master to rejoin")
	warmup := fs.Duration("warmup", time.Second, "writes before the fault")
	keep := fs.Bool("keep-keys", false, "do not delete the drill:* keys afterwards")
	tf := addTopoFlags(fs)
	pos, err := drillCmd.parse(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		return drillCmd.fail(usagef("%v", err))
	}
	if len(pos) > 0 {
		return drillCmd.fail(usagef("unexpected argument %q", pos[0]))
	}
	switch *scenario {
	case "kill", "stop", "kill-sentinel", "partition":
	default:
		return drillCmd.fail(usagef("--scenario %q: want kill, stop, kill-sentinel or partition", *scenario))
	}
	if *rate < 1 || *rate > 10000 {
		return drillCmd.fail(usagef("--rate must be between 1 and 10000"))
	}
	t, l, err := tf.resolve()
	if err != nil {
		return drillCmd.fail(err)
	}
	d := &drill{t: t, l: l, scenario: *scenario, rate: *rate, wait: *waitF, yes: *yes, masterPid: *masterPid,
		stall: *stall, timeout: *timeout, warmup: *warmup, keep: *keep, out: Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := d.run(ctx)
	if rep != nil {
		if *jsonF {
			b, _ := json.MarshalIndent(rep, "", "  ")
			fmt.Fprintf(Stdout, "%s\n", b)
		} else {
			renderDrill(Stdout, rep)
		}
	}
	if err != nil {
		return drillCmd.fail(err)
	}
	return 0
}

type drill struct {
	t         Target
	l         *layout
	scenario  string
	rate      int
	wait      bool
	yes       bool
	masterPid int
	stall     time.Duration
	timeout   time.Duration
	warmup    time.Duration
	keep      bool
	out       io.Writer

	mu    sync.Mutex
	phase string
}

func (d *drill) setPhase(p string) { d.mu.Lock(); d.phase = p; d.mu.Unlock() }

func (d *drill) run(ctx context.Context) (*DrillReport, error) {
	rep := &DrillReport{Scenario: d.scenario, MasterName: d.t.MasterName, Run: strconv.FormatInt(time.Now().UnixNano()/1e6%1e9, 36),
		Writes: DrillWrites{Rate: d.rate, Wait: d.wait}, Events: []DrillEvent{}}
	fail := func(format string, a ...any) (*DrillReport, error) {
		err := fmt.Errorf(format, a...)
		rep.Failure = err.Error()
		return rep, err
	}

	// The topology must be healthy: all Sentinels agree, a replica is up.
	s := Collect(ctx, d.t)
	if s.Master == "" {
		return nil, fmt.Errorf("no Sentinel at %s names a master %q", sentinelList(d.t), d.t.MasterName)
	}
	if !s.Agree {
		return nil, fmt.Errorf("the Sentinels disagree on the master (%d of %d name %s); fix that first (vigil status)", s.Agreeing, s.Reachable, s.Master)
	}
	old := s.Master
	rep.OldMaster = old
	replicas := 0
	masterUp := false
	for _, n := range s.Nodes {
		if n.Addr == old && n.Reachable && n.Role == "master" {
			masterUp = true
		}
		if n.Reachable && n.Role == "replica" && n.Follows == old && n.Link == "up" {
			replicas++
		}
	}
	if !masterUp {
		return nil, fmt.Errorf("the master %s does not answer as a master", old)
	}
	if replicas == 0 {
		return nil, fmt.Errorf("the master %s has no replica with its link up: nothing to fail over to", old)
	}
	for _, ss := range s.Sentinels {
		if ss.Reachable && ss.Master == old {
			if da := downAfterOf(ss.Addr, d.t); da > rep.DownAfter {
				rep.DownAfter = da
			}
		}
	}
	if rep.DownAfter == 0 {
		rep.DownAfter = 30000
	}
	if d.stall == 0 {
		d.stall = time.Duration(rep.DownAfter)*time.Millisecond + 5*time.Second
	}

	// What the fault needs.
	node, local := localNodeAt(d.l, old)
	pid := 0
	switch {
	case local:
		pid = nodePid(d.l, node)
	case d.masterPid > 0:
		pid = d.masterPid
	}
	var sentNode localNode
	sentPid := 0
	switch d.scenario {
	case "kill", "stop":
		if pid == 0 {
			if local {
				return nil, fmt.Errorf("no live pid for %s (%s)", node.Name, d.l.pidPath(node))
			}
			return nil, fmt.Errorf("--scenario %s needs the master's process: use a 'vigil up' topology (--dir) or --master-pid, or --scenario partition", d.scenario)
		}
	case "kill-sentinel":
		if !local || d.l == nil {
			return nil, fmt.Errorf("--scenario kill-sentinel needs a local 'vigil up' topology (--dir)")
		}
		if pid == 0 {
			return nil, fmt.Errorf("no live pid for %s (%s)", node.Name, d.l.pidPath(node))
		}
		sn := d.l.sentinelNodes()
		if len(sn) < 2 {
			return nil, fmt.Errorf("--scenario kill-sentinel needs at least 2 Sentinels")
		}
		sentNode = sn[len(sn)-1]
		if sentPid = nodePid(d.l, sentNode); sentPid == 0 {
			return nil, fmt.Errorf("no live pid for %s (%s)", sentNode.Name, d.l.pidPath(sentNode))
		}
	case "partition":
		if err := debugAllowed(old, d.t); err != nil {
			if pid == 0 {
				return nil, fmt.Errorf("--scenario partition needs DEBUG SLEEP on %s: %v (set enable-debug-command yes or local)", old, err)
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("DEBUG is disabled on %s (%v): stalled with SIGSTOP/SIGCONT instead", old, err))
		}
	}
	if d.l == nil && !d.yes {
		what := map[string]string{"kill": fmt.Sprintf("SIGKILL pid %d", pid), "stop": fmt.Sprintf("SIGSTOP pid %d for %v", pid, d.stall),
			"partition": fmt.Sprintf("DEBUG SLEEP %.1f", d.stall.Seconds())}[d.scenario]
		if err := confirm(fmt.Sprintf("vigil drill will %s on master %q at %s and make the Sentinels fail over.", what, d.t.MasterName, old)); err != nil {
			return nil, err
		}
	}

	// Events, then the writer, then the fault.
	ev := followEvents(d.t)
	defer ev.stop()
	if n := ev.waitReady(len(d.t.Sentinels), 3*time.Second); n == 0 {
		return nil, fmt.Errorf("could not subscribe to any Sentinel's events")
	}
	w := &drillWriter{t: d.t, run: rep.Run, rate: d.rate, wait: d.wait}
	wctx, wstop := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go func() { w.loop(wctx); close(wdone) }()
	stopWriter := func() {
		wstop()
		<-wdone
	}
	defer stopWriter()
	start := time.Now()
	var faultAt time.Time
	d.setPhase("warming up")
	pr := startProgress(d.out, func() string {
		d.mu.Lock()
		phase := d.phase
		d.mu.Unlock()
		st := w.stats()
		el := time.Since(start)
		if !faultAt.IsZero() {
			el = time.Since(faultAt)
		}
		last := ""
		if evs := ev.list(); len(evs) > 0 {
			last = "  last event " + evs[len(evs)-1].Channel
		}
		return fmt.Sprintf("vigil drill %s: %5.1fs  %s  acked %d  failed %d  master %s%s", d.scenario, el.Seconds(), phase, st.Acknowledged, st.Failed, w.master(), last)
	})
	progressDone := false
	endProgress := func() {
		if !progressDone {
			progressDone = true
			pr.end()
		}
	}
	defer endProgress()

	select {
	case <-time.After(d.warmup):
	case <-ctx.Done():
		return fail("interrupted")
	}
	if st := w.stats(); st.Acknowledged == 0 {
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return fail("interrupted")
		}
		if st = w.stats(); st.Acknowledged == 0 {
			return fail("the writer got no acknowledgement from %s before the fault: %s", old, st.LastError)
		}
	}

	// The fault.
	d.setPhase("fault")
	var resume func() // undo a stall early on the way out
	faultAt = time.Now()
	rep.FaultAt = faultAt
	switch d.scenario {
	case "kill":
		rep.Fault = fmt.Sprintf("SIGKILL pid %d (master %s%s)", pid, old, nodeSuffix(node, local))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fail("kill %d: %v", pid, err)
		}
	case "kill-sentinel":
		rep.Fault = fmt.Sprintf("SIGKILL pid %d (%s %s), then 1s later SIGKILL pid %d (master %s%s)", sentPid, sentNode.Name, sentNode.addr(), pid, old, nodeSuffix(node, local))
		if err := syscall.Kill(sentPid, syscall.SIGKILL); err != nil {
			return fail("kill %d: %v", sentPid, err)
		}
		time.Sleep(time.Second)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fail("kill %d: %v", pid, err)
		}
	case "stop", "partition":
		useSignal := d.scenario == "stop" || len(rep.Notes) > 0 && strings.Contains(rep.Notes[len(rep.Notes)-1], "SIGSTOP")
		if useSignal {
			rep.Fault = fmt.Sprintf("SIGSTOP pid %d (master %s%s), SIGCONT after %v", pid, old, nodeSuffix(node, local), d.stall)
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				return fail("SIGSTOP %d: %v", pid, err)
			}
			var once sync.Once
			resume = func() { once.Do(func() { syscall.Kill(pid, syscall.SIGCONT) }) }
			tm := time.AfterFunc(d.stall, resume)
			defer func() { tm.Stop(); resume() }()
		} else {
			rep.Fault = fmt.Sprintf("DEBUG SLEEP %.1f on master %s%s (a stall, not a network partition)", d.stall.Seconds(), old, nodeSuffix(node, local))
			c, err := dial(old, d.t.Password, d.t.Timeout)
			if err != nil {
				return fail("connect to %s: %v", old, err)
			}
			c.conn.SetDeadline(time.Now().Add(d.stall + 30*time.Second))
			if _, err := c.conn.Write(cmdBytes("DEBUG", "SLEEP", strconv.FormatFloat(d.stall.Seconds(), 'f', 3, 64))); err != nil {
				c.Close()
				return fail("DEBUG SLEEP on %s: %v", old, err)
			}
			go func() { c.rr.Read(); c.Close() }()
		}
	}

	// The new master: every reachable Sentinel names it, and it says so.
	d.setPhase("waiting for failover")
	var newMaster string
	deadline := faultAt.Add(time.Duration(rep.DownAfter)*time.Millisecond + d.timeout)
	for {
		if ctx.Err() != nil {
			return fail("interrupted")
		}
		if time.Now().After(deadline) {
			d.fillEvents(rep, ev)
			return fail("no failover of %s within %v after the fault (down-after %d ms)", old, time.Since(faultAt).Round(time.Second), rep.DownAfter)
		}
		views, n := sentinelViews(d.t)
		cand := ""
		agree := n > 0
		for _, v := range views {
			if cand == "" {
				cand = v
			}
			if v != cand {
				agree = false
			}
		}
		if agree && cand != "" && cand != old {
			if f, err := replInfo(cand, d.t); err == nil && f["role"] == "master" {
				newMaster = cand
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	fo := ms(time.Since(faultAt))
	rep.FailoverMS = &fo
	rep.NewMaster = newMaster
	rep.Promoted = true

	// Some acknowledged writes on the new master.
	d.setPhase("writing to " + newMaster)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if w.lastAck().After(faultAt.Add(time.Duration(fo)*time.Millisecond)) && w.ackedOn(newMaster) {
			break
		}
	}

	// The old master comes back as a replica of the new one.
	d.setPhase("old master rejoining")
	switch {
	case d.scenario == "kill" || d.scenario == "kill-sentinel":
		if !local {
			rep.Rejoin.Note = "not restarted: no 'vigil up' layout to restart it from; restart it and check 'vigil status'"
			break
		}
		if _, err := restartLocal(d.l, node, 20*time.Second); err != nil {
			rep.Rejoin.Note = "restart failed: " + err.Error()
			break
		}
		rep.Rejoin.Restarted = true
		rep.Notes = append(rep.Notes, fmt.Sprintf("restarted %s (%s) at +%s", node.Name, old, secs(time.Since(faultAt))))
	}
	if d.scenario == "kill-sentinel" {
		if _, err := restartLocal(d.l, sentNode, 20*time.Second); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("could not restart %s: %v", sentNode.Name, err))
		} else {
			rep.Notes = append(rep.Notes, fmt.Sprintf("restarted %s (%s) at +%s", sentNode.Name, sentNode.addr(), secs(time.Since(faultAt))))
		}
	}
	if rep.Rejoin.Note == "" {
		rdeadline := time.Now().Add(d.timeout)
		for {
			if ctx.Err() != nil {
				return fail("interrupted")
			}
			f, err := replInfo(old, d.t)
			if err == nil {
				rep.Rejoin.Role, rep.Rejoin.Follows = f["role"], ""
				if f["role"] == "slave" {
					rep.Rejoin.Follows = followsAddr(f)
				}
				if f["role"] == "slave" && sameAddr(rep.Rejoin.Follows, newMaster) {
					rep.Rejoin.Rejoined = true
					rep.Rejoin.AfterMS = ms(time.Since(faultAt))
					break
				}
			}
			if time.Now().After(rdeadline) {
				rep.Rejoin.Note = fmt.Sprintf("still not a replica of %s %v after the failover", newMaster, d.timeout)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// With --wait and a single replica, nothing is acknowledged until the
	// old master is back as a replica: give the writer time for that.
	d.setPhase("writing")
	since := time.Now()
	for end := since.Add(10 * time.Second); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		if w.lastAck().After(since) {
			break
		}
	}

	// Stop writing, read everything acknowledged back.
	d.setPhase("checking writes")
	stopWriter()
	d.fillEvents(rep, ev)
	acks := w.acks()
	st := w.stats()
	rep.Writes.Attempted, rep.Writes.Acknowledged, rep.Writes.Failed, rep.Writes.NotReplicated, rep.Writes.LastError =
		st.Attempted, st.Acknowledged, st.Failed, st.NotReplicated, st.LastError
	rep.Window = window(acks, faultAt)
	current, err := askMaster(d.t)
	if err != nil {
		return fail("asking the Sentinels for the master after the drill: %v", err)
	}
	lost, lostKeys, err := checkAcked(current, d.t, rep.Run, acks)
	if err != nil {
		return fail("checking acknowledged writes on %s: %v", current, err)
	}
	rep.Writes.Checked, rep.Writes.Lost, rep.Writes.LostKeys = true, lost, lostKeys
	if !d.keep {
		deleteKeys(current, d.t, rep.Run, w.attempted())
	}
	endProgress()
	rep.Duration = time.Since(start)

	switch {
	case d.wait && lost > 0:
		return fail("%d writes acknowledged with WAIT were lost", lost)
	case !rep.Rejoin.Rejoined && rep.Rejoin.Note != "" && !strings.HasPrefix(rep.Rejoin.Note, "not restarted"):
		return fail("the old master %s did not rejoin: %s", old, rep.Rejoin.Note)
	case rep.Window == nil:
		return fail("no acknowledged write after the fault")
	}
	rep.OK = true
	return rep, nil
}

func nodeSuffix(n localNode, local bool) string {
	if !local {
		return ""
	}
	return ", " + n.Name
}

func sentinelList(t Target) string {
	var a []string
	for _, s := range t.Sentinels {
		a = append(a, s.Addr)
	}
	return strings.Join(a, ", ")
}

func sameAddr(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	norm := func(h string) string {
		if h == "localhost" {
			return "127.0.0.1"
		}
		return h
	}
	return pa == pb && norm(ha) == norm(hb)
}

func cmdBytes(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// downAfterOf reads down-after-milliseconds from one Sentinel.
func downAfterOf(addr string, t Target) int64 {
	c, err := dial(addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return 0
	}
	defer c.Close()
	v, err := c.do("SENTINEL", "MASTER", t.MasterName)
	if err != nil || v.Err() != nil {
		return 0
	}
	return atoi64(fields(v)["down-after-milliseconds"])
}

// debugAllowed probes DEBUG on addr without side effects.
func debugAllowed(addr string, t Target) error {
	c, err := dial(addr, t.Password, t.Timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.do("DEBUG", "HELP")
	if err != nil {
		return err
	}
	if e := v.Err(); e != nil {
		msg := e.Error()
		if i := strings.Index(msg, ". "); i > 0 {
			msg = msg[:i]
		}
		return errors.New(msg)
	}
	return nil
}

func (d *drill) fillEvents(rep *DrillReport, ev *sentinelEvents) {
	rep.Events = rep.Events[:0]
	for _, e := range ev.list() {
		if e.Time.Before(rep.FaultAt) {
			continue
		}
		rep.Events = append(rep.Events, DrillEvent{AfterMS: ms(e.Time.Sub(rep.FaultAt)), Sentinel: e.Sentinel, Event: e.Channel, Message: e.Message})
	}
}

// window is the longest gap between acknowledgements from the last one
// before the fault on.
func window(acks []drillAck, fault time.Time) *DrillWindow {
	prev := -1
	for i, a := range acks {
		if !a.t.After(fault) {
			prev = i
		}
	}
	var best *DrillWindow
	prevT := fault
	if prev >= 0 {
		prevT = acks[prev].t
	}
	for _, a := range acks[prev+1:] {
		if gap := a.t.Sub(prevT); best == nil || ms(gap) > best.MS {
			best = &DrillWindow{MS: ms(gap), StartMS: ms(prevT.Sub(fault)), EndMS: ms(a.t.Sub(fault))}
		}
		prevT = a.t
	}
	return best
}

// checkAcked reads every acknowledged key back (MGET in batches).
func checkAcked(addr string, t Target, run string, acks []drillAck) (int, []string, error) {
	c, err := dial(addr, t.Password, 10*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	lost := 0
	var keys []string
	for i := 0; i < len(acks); i += 500 {
		batch := acks[i:min(i+500, len(acks))]
		args := []string{"MGET"}
		for _, a := range batch {
			args = append(args, drillKey(run, a.i))
		}
		v, err := c.do(args...)
		if err != nil {
			return 0, nil, err
		}
		if e := v.Err(); e != nil {
			return 0, nil, e
		}
		for j, a := range batch {
			if j >= len(v.Elems) || v.Elems[j].Null || string(v.Elems[j].Str) != strconv.Itoa(a.i) {
				lost++
				if len(keys) < 10 {
					keys = append(keys, drillKey(run, a.i))
				}
			}
		}
	}
	return lost, keys, nil
}

func deleteKeys(addr string, t Target, run string, n int) {
	c, err := dial(addr, t.Password, 10*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	for i := 1; i <= n; i += 500 {
		args := []string{"DEL"}
		for j := i; j < i+500 && j <= n; j++ {
			args = append(args, drillKey(run, j))
		}
		c.do(args...)
	}
}

func drillKey(run string, i int) string { return "drill:" + run + ":" + strconv.Itoa(i) }

// drillWriter is the application: Sentinel discovery, SET, optional WAIT.
type drillWriter struct {
	t    Target
	run  string
	rate int
	wait bool

	mu   sync.Mutex
	st   DrillWrites
	ackl []drillAck
	cur  string
	n    int
}

type drillAck struct {
	i    int
	t    time.Time
	addr string
}

func (w *drillWriter) loop(ctx context.Context) {
	tick := time.NewTicker(time.Second / time.Duration(w.rate))
	defer tick.Stop()
	var c *client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	t := w.t
	t.Timeout = 500 * time.Millisecond
	failed := func(err error) {
		w.mu.Lock()
		w.st.Failed++
		w.st.LastError = shortErr(err)
		w.mu.Unlock()
		if c != nil {
			c.Close()
			c = nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if c == nil {
			addr, err := askMaster(t)
			if err != nil {
				failed(err)
				continue
			}
			if c, err = dial(addr, t.Password, t.Timeout); err != nil {
				failed(err)
				continue
			}
			w.mu.Lock()
			w.cur = addr
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.n++
		i := w.n
		w.st.Attempted++
		w.mu.Unlock()
		v, err := c.do("SET", drillKey(w.run, i), strconv.Itoa(i))
		if err == nil {
			err = v.Err() // READONLY, LOADING, ...: ask the Sentinels again
		}
		if err != nil {
			failed(err)
			continue
		}
		if w.wait {
			v, err := c.do("WAIT", "1", "100")
			if err == nil {
				err = v.Err()
			}
			if err != nil {
				failed(err)
				continue
			}
			if v.Int < 1 {
				w.mu.Lock()
				w.st.NotReplicated++
				w.mu.Unlock()
				continue
			}
		}
		w.mu.Lock()
		w.st.Acknowledged++
		w.ackl = append(w.ackl, drillAck{i: i, t: time.Now(), addr: c.addr})
		w.mu.Unlock()
	}
}

func (w *drillWriter) stats() DrillWrites { w.mu.Lock(); defer w.mu.Unlock(); return w.st }
func (w *drillWriter) master() string     { w.mu.Lock(); defer w.mu.Unlock(); return w.cur }
func (w *drillWriter) attempted() int     { w.mu.Lock(); defer w.mu.Unlock(); return w.n }
func (w *drillWriter) acks() []drillAck {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]drillAck(nil), w.ackl...)
}
func (w *drillWriter) lastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ackl) == 0 {
		return time.Time{}
	}
	return w.ackl[len(w.ackl)-1].t
}
func (w *drillWriter) ackedOn(addr string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ackl) > 0 && sameAddr(w.ackl[len(w.ackl)-1].addr, addr)
}

// eventRows: the first occurrence of each event (by name and instance
// type), in order, with how many Sentinels reported it.
type eventRow struct {
	name      string
	first     int64
	sentinel  string
	sentinels map[string]bool
}

func eventRows(evs []DrillEvent) []*eventRow {
	byKey := map[string]*eventRow{}
	var rows []*eventRow
	for _, e := range evs {
		key := e.Event
		switch kind, _, _ := strings.Cut(e.Message, " "); kind {
		case "master", "slave", "sentinel":
			key += " " + kind
		}
		r := byKey[key]
		if r == nil {
			r = &eventRow{name: key, first: e.AfterMS, sentinel: e.Sentinel, sentinels: map[string]bool{}}
			byKey[key] = r
			rows = append(rows, r)
		}
		r.sentinels[e.Sentinel] = true
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].first < rows[b].first })
	return rows
}

func renderDrill(w io.Writer, r *DrillReport) {
	fmt.Fprintf(w, "Drill %q on %s (master %s), run %s\n", r.Scenario, r.MasterName, r.OldMaster, r.Run)
	fmt.Fprintf(w, "Fault at %s: %s\n\n", r.FaultAt.Format("15:04:05.000"), r.Fault)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tAFTER FAULT\tFIRST FROM\tSENTINELS")
	for _, e := range eventRows(r.Events) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", e.name, secs(time.Duration(e.first)*time.Millisecond), e.sentinel, len(e.sentinels))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	promoted := "no"
	if r.Promoted {
		promoted = r.NewMaster
	}
	fmt.Fprintf(tw, "promoted\t%s\n", promoted)
	if r.FailoverMS != nil {
		fmt.Fprintf(tw, "failover\t%s (fault → every Sentinel names %s and it reports role:master)\n", secs(time.Duration(*r.FailoverMS)*time.Millisecond), r.NewMaster)
	}
	if r.Window != nil {
		fmt.Fprintf(tw, "write window\t%s without an acknowledged write (from %+.3fs to %+.3fs)\n", secs(time.Duration(r.Window.MS)*time.Millisecond),
			float64(r.Window.StartMS)/1000, float64(r.Window.EndMS)/1000)
	}
	wait := "without WAIT"
	if r.Writes.Wait {
		wait = "with WAIT 1 100"
	}
	fmt.Fprintf(tw, "writes\t%d attempted at %d/s %s, %d acknowledged, %d failed", r.Writes.Attempted, r.Writes.Rate, wait, r.Writes.Acknowledged, r.Writes.Failed)
	if r.Writes.NotReplicated > 0 {
		fmt.Fprintf(tw, ", %d not replicated in time", r.Writes.NotReplicated)
	}
	fmt.Fprintln(tw)
	if r.Writes.Checked {
		fmt.Fprintf(tw, "lost\t%d of %d acknowledged writes", r.Writes.Lost, r.Writes.Acknowledged)
		if len(r.Writes.LostKeys) > 0 {
			fmt.Fprintf(tw, " (e.g. %s)", strings.Join(r.Writes.LostKeys[:min(3, len(r.Writes.LostKeys))], ", "))
		}
		fmt.Fprintln(tw)
	}
	switch {
	case r.Rejoin.Rejoined:
		fmt.Fprintf(tw, "old master\trejoined as a replica of %s, %s after the fault\n", r.Rejoin.Follows, secs(time.Duration(r.Rejoin.AfterMS)*time.Millisecond))
	case r.Rejoin.Note != "":
		fmt.Fprintf(tw, "old master\t%s\n", r.Rejoin.Note)
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.OK {
		fmt.Fprintln(w, "\nResult: OK")
	} else if r.Failure != "" {
		fmt.Fprintf(w, "\nResult: FAILED: %s\n", r.Failure)
	}
}
