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
	"syscall"
	"text/tabwriter"
	"time"
)

// `vigil switchover`: a planned failover that loses no acknowledged write,
// using only what redis-sentinel and redis-server already offer.
//
//  1. Pick the target (--to, or the replica with the highest offset).
//  2. Make the Sentinels able to pick only it: replica-priority 0 on the
//     other replicas (CONFIG SET, restored at the end, also on failure),
//     and wait until a Sentinel's SENTINEL REPLICAS shows that (Sentinels
//     read priorities from INFO, every 10 s).
//  3. CLIENT PAUSE <timeout> WRITE on the master: from here on it
//     acknowledges no write.
//  4. Wait until the target's offset reaches the master's
//     master_repl_offset: it has every acknowledged write.
//  5. SENTINEL FAILOVER on that Sentinel; wait for the target to report
//     role:master (the end of the window), then REPLICAOF target on the old
//     master at once (the Sentinels would convert it only ~8 s later; until
//     then writes paused on it could be accepted when the pause ends).
//  6. Wait for every Sentinel to name the target, CLIENT UNPAUSE the old
//     master: the writes it held fail with READONLY and their clients ask
//     the Sentinels again.
//
// No Sentinel protocol extension is needed.

var switchoverCmd = command{
	name:  "switchover",
	usage: "vigil switchover [--to HOST:PORT] [--dir DIR | --sentinel HOST:PORT ...] [--master-name mymaster] [--timeout 10s] [--json]",
	summary: `Hand the master role to a replica for maintenance without losing an
acknowledged write: pause writes on the master (CLIENT PAUSE WRITE), let
the chosen replica catch up to the master's offset, have the Sentinels
promote exactly that replica (SENTINEL FAILOVER, with replica-priority 0
on the other replicas for the duration), turn the old master into a
replica of the new one, and resume. Clients blocked by the pause get
READONLY from the old master and find the new one through the Sentinels.

The window reported is from the start of the pause until the new master
accepts writes; the time until every Sentinel names it is reported too.
--timeout bounds the pause (the master unpauses by itself after it) and
each wait. Works against vigil and redis-server/redis-sentinel.`,
	example: `vigil switchover                              # after 'vigil up' in this directory
vigil switchover --to 127.0.0.1:7002 --json
vigil switchover --sentinel 10.0.0.12:26379,10.0.0.13:26379 --password "$VIGIL_PASSWORD"`,
}

// SwitchoverReport is the result of a switchover (--json).
type SwitchoverReport struct {
	MasterName  string            `json:"master_name"`
	OldMaster   string            `json:"old_master"`
	NewMaster   string            `json:"new_master"`
	Sentinel    string            `json:"sentinel"`    // the one that got SENTINEL FAILOVER
	PrepareMS   int64             `json:"prepare_ms"`  // priorities visible to the Sentinel
	CatchUpMS   int64             `json:"catch_up_ms"` // pause → target at the master's offset
	Offset      int64             `json:"offset"`
	WindowMS    int64             `json:"window_ms"`                     // pause → new master accepts writes
	AgreeMS     int64             `json:"sentinels_agree_ms"`            // pause → every Sentinel names it
	PausedMS    int64             `json:"paused_ms"`                     // pause → unpause of the old master
	OldRejoined bool              `json:"old_master_replica"`            // old master replicates from the new one
	Priorities  map[string]string `json:"priorities_restored,omitempty"` // replica-priority changed for the switchover, and restored to these values
	OK          bool              `json:"ok"`
	Failure     string            `json:"failure,omitempty"`
}

// Switchover runs `vigil switchover`.
func Switchover(args []string) int {
	fs := switchoverCmd.newFlags()
	to := fs.String("to", "", "replica to promote HOST:PORT (default: the one with the highest offset)")
	timeout := fs.Duration("timeout", 10*time.Second, "maximum write pause, and limit of each wait")
	prepare := fs.Duration("prepare-timeout", 30*time.Second, "how long to wait for a Sentinel to see the replica priorities")
	jsonF := fs.Bool("json", false, "print the report as JSON")
	tf := addTopoFlags(fs)
	pos, err := switchoverCmd.parse(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		return switchoverCmd.fail(usagef("%v", err))
	}
	if len(pos) > 0 {
		return switchoverCmd.fail(usagef("unexpected argument %q", pos[0]))
	}
	if *to != "" {
		if _, _, err := net.SplitHostPort(*to); err != nil {
			return switchoverCmd.fail(usagef("--to %q: want HOST:PORT", *to))
		}
	}
	if *timeout < 500*time.Millisecond {
		return switchoverCmd.fail(usagef("--timeout must be at least 500ms"))
	}
	t, _, err := tf.resolve()
	if err != nil {
		return switchoverCmd.fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := RunSwitchover(ctx, t, *to, *timeout, *prepare, Stderr)
	if rep != nil {
		if *jsonF {
			b, _ := json.MarshalIndent(rep, "", "  ")
			fmt.Fprintf(Stdout, "%s\n", b)
		} else {
			renderSwitchover(Stdout, rep)
		}
	}
	if err != nil {
		return switchoverCmd.fail(err)
	}
	return 0
}

// RunSwitchover performs one switchover; progress lines go to log.
func RunSwitchover(ctx context.Context, t Target, to string, timeout, prepareTimeout time.Duration, log io.Writer) (*SwitchoverReport, error) {
	step := func(format string, a ...any) { fmt.Fprintf(log, "switchover: "+format+"\n", a...) }
	s := Collect(ctx, t)
	if s.Master == "" {
		return nil, fmt.Errorf("no Sentinel at %s names a master %q", sentinelList(t), t.MasterName)
	}
	if !s.Agree {
		return nil, fmt.Errorf("the Sentinels disagree on the master (%d of %d name %s); fix that first (vigil status)", s.Agreeing, s.Reachable, s.Master)
	}
	old := s.Master
	rep := &SwitchoverReport{MasterName: t.MasterName, OldMaster: old}
	fail := func(format string, a ...any) (*SwitchoverReport, error) {
		err := fmt.Errorf(format, a...)
		rep.Failure = err.Error()
		return rep, err
	}
	var cands []NodeStatus
	var others []NodeStatus
	for _, n := range s.Nodes {
		if n.Reachable && n.Role == "replica" && sameAddr(n.Follows, old) {
			if n.Link == "up" {
				cands = append(cands, n)
			} else {
				others = append(others, n)
			}
		}
	}
	if len(cands) == 0 {
		return fail("the master %s has no replica with its link up", old)
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].Offset > cands[b].Offset })
	target := cands[0]
	if to != "" {
		found := false
		for i, c := range cands {
			if sameAddr(c.Addr, to) {
				target, found = c, true
				others = append(others, cands[:i]...)
				others = append(others, cands[i+1:]...)
				break
			}
		}
		if !found {
			return fail("%s is not a replica of %s with its link up", to, old)
		}
	} else {
		others = append(others, cands[1:]...)
	}
	rep.NewMaster = target.Addr
	step("master %s → %s", old, target.Addr)

	// 2. Only the target may be chosen.
	restore := map[string]string{}
	defer func() {
		for addr, p := range restore {
			if c, err := dial(addr, t.Password, t.Timeout); err == nil {
				c.do("CONFIG", "SET", "replica-priority", p)
				c.Close()
			}
		}
	}()
	setPrio := func(addr, p string) error {
		c, err := dial(addr, t.Password, t.Timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		v, err := c.do("CONFIG", "GET", "replica-priority")
		if err != nil || v.Err() != nil || len(v.Elems) != 2 {
			return fmt.Errorf("CONFIG GET replica-priority: %v %v", err, v.Err())
		}
		cur := valueText(v.Elems[1])
		if cur == p {
			return nil
		}
		if _, err := c.str("CONFIG", "SET", "replica-priority", p); err != nil {
			return fmt.Errorf("CONFIG SET replica-priority %s: %v", p, err)
		}
		if _, ok := restore[addr]; !ok {
			restore[addr] = cur
		}
		return nil
	}
	want := map[string]int64{}
	for _, o := range others {
		if err := setPrio(o.Addr, "0"); err != nil {
			return fail("%s: %v", o.Addr, err)
		}
		want[o.Addr] = 0
	}
	if target.Priority != nil && *target.Priority == 0 {
		if err := setPrio(target.Addr, "100"); err != nil {
			return fail("%s: %v", target.Addr, err)
		}
	}
	if len(restore) > 0 {
		rep.Priorities = map[string]string{}
		for a, p := range restore {
			rep.Priorities[a] = p
		}
	}
	pstart := time.Now()
	var sentinel Member
	if len(restore) > 0 {
		step("waiting for a Sentinel to see replica-priority 0 on %d other replica(s)", len(others))
	}
	for {
		for _, m := range t.Sentinels {
			if sentinelSees(m, t, target.Addr, want) {
				sentinel = m
				break
			}
		}
		if sentinel.Addr != "" {
			break
		}
		if ctx.Err() != nil {
			return fail("interrupted")
		}
		if time.Since(pstart) > prepareTimeout {
			return fail("no Sentinel saw the target %s as a usable replica (and the others with priority 0) within %v", target.Addr, prepareTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep.Sentinel = sentinel.Addr
	rep.PrepareMS = ms(time.Since(pstart))

	// 3. Pause writes.
	mc, err := dial(old, t.Password, t.Timeout)
	if err != nil {
		return fail("connect to the master %s: %v", old, err)
	}
	defer mc.Close()
	pauseMS := strconv.FormatInt(timeout.Milliseconds(), 10)
	t0 := time.Now()
	if _, err := mc.str("CLIENT", "PAUSE", pauseMS, "WRITE"); err != nil {
		return fail("CLIENT PAUSE on %s: %v", old, err)
	}
	converted := false
	defer func() {
		// Never leave the old master paused, whatever happened.
		if c, err := dial(old, t.Password, t.Timeout); err == nil {
			c.do("CLIENT", "UNPAUSE")
			c.Close()
		}
	}()
	step("writes paused on %s", old)
	pauseDeadline := t0.Add(timeout)

	// 4. Catch up.
	tc, err := dial(target.Addr, t.Password, t.Timeout)
	if err != nil {
		return fail("connect to %s: %v", target.Addr, err)
	}
	defer tc.Close()
	for {
		ms_, err := mc.str("INFO", "replication")
		if err != nil {
			return fail("INFO on %s: %v", old, err)
		}
		ts, err := tc.str("INFO", "replication")
		if err != nil {
			return fail("INFO on %s: %v", target.Addr, err)
		}
		mo := atoi64(parseInfo(ms_)["master_repl_offset"])
		tf := parseInfo(ts)
		if to := atoi64(tf["slave_repl_offset"]); to >= mo && tf["master_link_status"] == "up" {
			rep.Offset = mo
			break
		}
		if time.Now().After(pauseDeadline.Add(-200 * time.Millisecond)) {
			return fail("%s did not catch up with the master's offset %d within %v (it is at %s)", target.Addr, mo, timeout, tf["slave_repl_offset"])
		}
		time.Sleep(2 * time.Millisecond)
	}
	rep.CatchUpMS = ms(time.Since(t0))
	step("%s caught up at offset %d after %dms", target.Addr, rep.Offset, rep.CatchUpMS)

	// 5. Promote exactly the target.
	sc, err := dial(sentinel.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return fail("connect to Sentinel %s: %v", sentinel.Addr, err)
	}
	_, err = sc.str("SENTINEL", "FAILOVER", t.MasterName)
	sc.Close()
	if err != nil {
		return fail("SENTINEL FAILOVER on %s: %v", sentinel.Addr, err)
	}
	step("SENTINEL FAILOVER sent to %s", sentinel.Addr)
	hardDeadline := t0.Add(timeout + 60*time.Second)
	for {
		// A fresh connection each time: the Sentinel's promotion ends
		// with CLIENT KILL TYPE normal on the target.
		if f, err := replInfo(target.Addr, t); err == nil && f["role"] == "master" {
			break
		}
		now := time.Now()
		if now.After(pauseDeadline.Add(-time.Second)) {
			// Committed: the Sentinel may still promote the target, so the
			// old master must not accept writes. Keep it paused while the
			// failover is in progress.
			if !failoverInProgress(sentinel, t) || now.After(hardDeadline) {
				return fail("%s was not promoted within %v", target.Addr, now.Sub(t0).Round(time.Millisecond))
			}
			mc.str("CLIENT", "PAUSE", pauseMS, "WRITE")
			pauseDeadline = now.Add(timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rep.WindowMS = ms(time.Since(t0))
	step("%s accepts writes (%dms after the pause)", target.Addr, rep.WindowMS)
	host, port, _ := net.SplitHostPort(target.Addr)
	if _, err := mc.str("REPLICAOF", host, port); err != nil {
		step("REPLICAOF %s on the old master failed: %v (the Sentinels will convert it)", target.Addr, err)
	} else {
		converted = true
	}

	// 6. The Sentinels agree, then resume.
	for {
		if ok, _ := agreedOn(t, target.Addr); ok {
			rep.AgreeMS = ms(time.Since(t0))
			break
		}
		if time.Since(t0) > timeout {
			break
		}
		if converted && time.Now().After(pauseDeadline.Add(-time.Second)) {
			// Harmless to let the pause run out once the old master is a
			// replica; keep going.
		}
		time.Sleep(10 * time.Millisecond)
	}
	mc.str("CLIENT", "UNPAUSE")
	rep.PausedMS = ms(time.Since(t0))
	if rep.AgreeMS == 0 {
		return fail("%s was promoted but not every Sentinel names it %v after the pause", target.Addr, timeout)
	}
	step("every Sentinel names %s (%dms); writes resumed", target.Addr, rep.AgreeMS)
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if f, err := replInfo(old, t); err == nil && f["role"] == "slave" && sameAddr(followsAddr(f), target.Addr) {
			rep.OldRejoined = true
			break
		}
	}
	rep.OK = true
	return rep, nil
}

// sentinelSees reports whether Sentinel m would pick target: it knows it as
// a connected replica that is not down, with a priority above 0, and every
// replica in zero with priority 0.
func sentinelSees(m Member, t Target, target string, zero map[string]int64) bool {
	c, err := dial(m.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	if a, err := func() (string, error) {
		v, err := c.do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", t.MasterName)
		if err != nil || v.Err() != nil || len(v.Elems) != 2 {
			return "", errors.New("no master")
		}
		return net.JoinHostPort(string(v.Elems[0].Str), string(v.Elems[1].Str)), nil
	}(); err != nil || a == "" {
		return false
	}
	v, err := c.do("SENTINEL", "REPLICAS", t.MasterName)
	if err != nil || v.Err() != nil {
		return false
	}
	okTarget := false
	seen := 0
	for _, e := range v.Elems {
		f := fields(e)
		addr := net.JoinHostPort(f["ip"], f["port"])
		prio := f["slave-priority"]
		if p, ok := f["replica-priority"]; ok {
			prio = p
		}
		flags := f["flags"]
		if sameAddr(addr, target) {
			okTarget = prio != "0" && flags == "slave" && f["master-link-status"] == "ok"
			continue
		}
		for z := range zero {
			if sameAddr(addr, z) {
				if prio != "0" {
					return false
				}
				seen++
			}
		}
		if prio != "0" && !containsFlag(flags, "s_down") && !containsFlag(flags, "disconnected") {
			return false // another replica it could pick
		}
	}
	return okTarget
}

func containsFlag(flags, f string) bool {
	for _, x := range splitComma(flags) {
		if x == f {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func failoverInProgress(m Member, t Target) bool {
	c, err := dial(m.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return true // cannot tell: assume it is
	}
	defer c.Close()
	v, err := c.do("SENTINEL", "MASTER", t.MasterName)
	if err != nil || v.Err() != nil {
		return true
	}
	return containsFlag(fields(v)["flags"], "failover_in_progress")
}

func renderSwitchover(w io.Writer, r *SwitchoverReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "switchover\t%s: %s → %s (SENTINEL FAILOVER via %s)\n", r.MasterName, r.OldMaster, r.NewMaster, r.Sentinel)
	fmt.Fprintf(tw, "prepare\t%s (replica priorities visible to the Sentinel)\n", secs(time.Duration(r.PrepareMS)*time.Millisecond))
	fmt.Fprintf(tw, "catch-up\t%s (target at the master's offset %d)\n", secs(time.Duration(r.CatchUpMS)*time.Millisecond), r.Offset)
	fmt.Fprintf(tw, "window\t%s (writes paused → new master accepts writes)\n", secs(time.Duration(r.WindowMS)*time.Millisecond))
	fmt.Fprintf(tw, "sentinels agree\t%s after the pause\n", secs(time.Duration(r.AgreeMS)*time.Millisecond))
	fmt.Fprintf(tw, "paused\t%s on the old master (held writes then get READONLY)\n", secs(time.Duration(r.PausedMS)*time.Millisecond))
	old := "not yet a replica of the new master"
	if r.OldRejoined {
		old = "replica of " + r.NewMaster
	}
	fmt.Fprintf(tw, "old master\t%s\n", old)
	tw.Flush()
	if r.OK {
		fmt.Fprintln(w, "\nResult: OK")
	} else if r.Failure != "" {
		fmt.Fprintf(w, "\nResult: FAILED: %s\n", r.Failure)
	}
}
