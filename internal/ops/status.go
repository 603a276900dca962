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
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

var statusCmd = command{
	name:  "status",
	usage: "vigil status [--sentinel HOST:PORT ...] [--master-name mymaster] [--watch] [--json]",
	summary: `Show the data nodes and Sentinels of one monitored master as a table:
each node's role, address, replication link, offset, lag and priority,
and each Sentinel's answer to GET-MASTER-ADDR-BY-NAME, its epochs and
CKQUORUM result, plus a list of problems (disagreeing Sentinels, nodes
down, replicas following the wrong master, two masters).

Without --sentinel it reads the layout of a local 'vigil up' from --dir
(./vigil-data by default) if there is one, else asks 127.0.0.1:26379.
--watch redraws every --interval and streams Sentinel events (+sdown,
+switch-master, ...) as they happen; --json prints machine-readable
output (one object per line with --watch). Works against vigil and
against Redis's redis-server/redis-sentinel.

Exit status: 0 when anything answered, 1 when nothing did, 2 for usage.`,
	example: `vigil status                                   # after 'vigil up' in this directory
vigil status --sentinel 192.168.1.12:26379,192.168.1.13:26379,192.168.1.14:26379 \
    --password "$VIGIL_PASSWORD" --watch
vigil status --dir ./vigil-data --json | jq .master`,
}

// Status runs `vigil status`.
func Status(args []string) int {
	fs := statusCmd.newFlags()
	var sentinels, nodes listFlag
	fs.Var(&sentinels, "sentinel", "Sentinel address HOST:PORT (repeatable or comma-separated)")
	fs.Var(&nodes, "node", "data node address HOST:PORT to include even if no Sentinel reports it (repeatable)")
	name := fs.String("master-name", "", "name of the monitored master (default mymaster, or the vigil up layout's)")
	dir := fs.String("dir", "", "a 'vigil up' data directory to read the layout from (default ./vigil-data if present)")
	pass := fs.String("password", os.Getenv("VIGIL_PASSWORD"), "data node password (default $VIGIL_PASSWORD)")
	spass := fs.String("sentinel-password", os.Getenv("VIGIL_SENTINEL_PASSWORD"), "Sentinel password (default $VIGIL_SENTINEL_PASSWORD)")
	watchF := fs.Bool("watch", false, "redraw until interrupted and stream Sentinel events")
	jsonF := fs.Bool("json", false, "machine-readable output")
	interval := fs.Duration("interval", time.Second, "redraw interval with --watch")
	timeout := fs.Duration("timeout", time.Second, "timeout per connection and command")
	pos, err := statusCmd.parse(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		return statusCmd.fail(usagef("%v", err))
	}
	if len(pos) > 0 {
		return statusCmd.fail(usagef("unexpected argument %q", pos[0]))
	}
	t := Target{Password: *pass, SentinelPassword: *spass, Timeout: *timeout}
	for _, a := range sentinels {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return statusCmd.fail(usagef("--sentinel %q: want HOST:PORT", a))
		}
		t.Sentinels = append(t.Sentinels, Member{Name: a, Addr: a})
	}
	for _, a := range nodes {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return statusCmd.fail(usagef("--node %q: want HOST:PORT", a))
		}
		t.Nodes = append(t.Nodes, Member{Name: a, Addr: a})
	}
	if len(t.Sentinels) == 0 && len(t.Nodes) == 0 {
		d := *dir
		if d == "" {
			d = defaultUpDir
		}
		l, err := readLayout(d)
		switch {
		case err == nil:
			t = l.target(t)
		case *dir != "":
			return statusCmd.fail(err)
		default:
			t.Sentinels = []Member{{Name: "127.0.0.1:26379", Addr: "127.0.0.1:26379"}}
		}
	}
	if *name != "" {
		t.MasterName = *name
	}
	if t.MasterName == "" {
		t.MasterName = "mymaster"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchF {
		Watch(ctx, t, Stdout, WatchOptions{Interval: *interval, JSON: *jsonF, TTY: isTerminal(Stdout)})
		return 0
	}
	s := Collect(ctx, t)
	if *jsonF {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Fprintf(Stdout, "%s\n", b)
	} else {
		Render(Stdout, s)
	}
	if s.Reachable == 0 && !anyNodeReachable(s) {
		var where []string
		for _, m := range append(t.Sentinels, t.Nodes...) {
			where = append(where, m.Addr)
		}
		return statusCmd.fail(fmt.Errorf("nothing answered at %s", strings.Join(where, ", ")))
	}
	return 0
}

func anyNodeReachable(s *Snapshot) bool {
	for _, n := range s.Nodes {
		if n.Reachable {
			return true
		}
	}
	return false
}

// Render writes the snapshot as tables (patronictl list style).
func Render(w io.Writer, s *Snapshot) {
	head := "no Sentinel names a master"
	switch {
	case s.Master != "" && s.Agree:
		head = fmt.Sprintf("master %s (%d/%d Sentinels agree)", s.Master, s.Agreeing, len(s.Sentinels))
	case s.Master != "":
		head = fmt.Sprintf("master %s according to %d of %d Sentinels: DISAGREEMENT", s.Master, s.Agreeing, len(s.Sentinels))
	case len(s.Sentinels) > 0 && s.Reachable == 0:
		head = "no Sentinel reachable"
	}
	fmt.Fprintf(w, "Cluster %s: %s  [%s]\n\n", s.MasterName, head, s.Time.Format("15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tROLE\tSTATE\tFOLLOWS\tOFFSET\tLAG\tPRIORITY\tSENTINEL FLAGS")
	for _, n := range s.Nodes {
		role, state, follows, off, lag, prio := "-", "down", "-", "-", "-", "-"
		if n.Reachable {
			role, off = n.Role, strconv.FormatInt(n.Offset, 10)
			switch n.Role {
			case "master":
				state = fmt.Sprintf("running (%d replicas)", n.Replicas)
			case "replica":
				follows = n.Follows
				state = "streaming"
				if n.Link != "up" {
					state = "link " + n.Link
				}
			default:
				state = "running"
			}
			if n.Error != "" {
				state = "error: " + n.Error
			}
		}
		if n.LagBytes != nil {
			lag = fmtBytes(*n.LagBytes)
			if n.LagSeconds != nil {
				lag += fmt.Sprintf(" / %ds", *n.LagSeconds)
			}
		}
		if n.Priority != nil {
			prio = strconv.FormatInt(*n.Priority, 10)
		}
		flags := n.SentinelFlags
		if flags == "" {
			flags = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Addr, role, state, follows, off, lag, prio, flags)
	}
	tw.Flush()
	if len(s.Sentinels) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SENTINEL\tADDRESS\tSTATE\tMASTER\tCONFIG-EPOCH\tLEADER-EPOCH\tPEERS\tQUORUM\tCKQUORUM")
		for _, ss := range s.Sentinels {
			if !ss.Reachable {
				fmt.Fprintf(tw, "%s\t%s\tdown\t-\t-\t-\t-\t-\t%s\n", ss.Name, ss.Addr, ss.Error)
				continue
			}
			master := ss.Master
			if master == "" {
				master = "(unknown)"
			}
			ck := "OK"
			if !ss.CKQuorumOK {
				ck = "FAIL: " + ss.CKQuorum
			}
			if ss.Error != "" {
				ck = ss.Error
			}
			fmt.Fprintf(tw, "%s\t%s\tup\t%s\t%d\t%d\t%d\t%d\t%s\n", ss.Name, ss.Addr, master, ss.ConfigEpoch, ss.LeaderEpoch, ss.OtherSentinels, ss.Quorum, ck)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if len(s.Problems) == 0 {
		fmt.Fprintln(w, "No problems.")
		return
	}
	fmt.Fprintln(w, "Problems:")
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

// WatchOptions tune Watch.
type WatchOptions struct {
	Interval time.Duration
	JSON     bool
	TTY      bool          // clear and redraw in place
	Header   func() string // printed above the table (vigil up's listing)
	Events   int           // recent events shown under the table (default 12)
}

// Watch redraws the status every Interval and shows Sentinel events until
// ctx ends. On a terminal the screen is redrawn in place; otherwise (a pipe
// or file) each table is printed after a separator and events are printed
// as they arrive. With JSON, snapshots and events are one object per line.
func Watch(ctx context.Context, t Target, w io.Writer, o WatchOptions) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Events == 0 {
		o.Events = 12
	}
	evctx, cancel := context.WithCancel(ctx)
	events := make(chan Event, 64)
	wg := streamEvents(evctx, t, events)
	defer func() { cancel(); wg.Wait() }()
	var recent []Event
	lastSig := ""
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	draw := func() {
		s := Collect(ctx, t)
		if ctx.Err() != nil {
			return
		}
		if o.JSON {
			b, _ := json.Marshal(map[string]any{"snapshot": s})
			fmt.Fprintf(w, "%s\n", b)
			return
		}
		var b strings.Builder
		if o.TTY {
			b.WriteString("\033[H\033[2J")
		} else {
			// A pipe or file gets a new table only when something other
			// than offsets and the clock changed.
			sig := s.signature()
			if sig == lastSig {
				return
			}
			lastSig = sig
			b.WriteString("----\n")
		}
		if o.Header != nil {
			b.WriteString(o.Header())
		}
		Render(&b, s)
		if o.TTY {
			b.WriteString("\nSentinel events:\n")
			if len(recent) == 0 {
				b.WriteString("  (none yet)\n")
			}
			for _, e := range recent {
				b.WriteString("  " + e.String() + "\n")
			}
			b.WriteString("\nCtrl-C to stop.\n")
		}
		io.WriteString(w, b.String())
	}
	draw()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			recent = append(recent, e)
			if len(recent) > o.Events {
				recent = recent[len(recent)-o.Events:]
			}
			switch {
			case o.JSON:
				b, _ := json.Marshal(map[string]any{"event": e})
				fmt.Fprintf(w, "%s\n", b)
			case !o.TTY:
				fmt.Fprintf(w, "event: %s\n", e)
			}
		case <-tick.C:
			draw()
		}
	}
}

// signature is the snapshot without the fields that change all the time.
func (s *Snapshot) signature() string {
	c := *s
	c.Time = time.Time{}
	c.Nodes = append([]NodeStatus(nil), s.Nodes...)
	for i := range c.Nodes {
		c.Nodes[i].Offset = 0
		c.Nodes[i].LagBytes, c.Nodes[i].LagSeconds = nil, nil
	}
	b, _ := json.Marshal(c)
	return string(b)
}
