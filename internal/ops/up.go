package ops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var upCmd = command{
	name:  "up",
	usage: "vigil up [--replicas 2] [--sentinels 3] [--quorum 2] [--base-port 7000] [--dir ./vigil-data] [--no-status]",
	summary: `Run the tutorial's topology on this machine: a master, --replicas
replicas and --sentinels Sentinels, each a child process of this binary
on 127.0.0.1 with its own config, data, log and pidfile under --dir.
Then show the live status (as 'vigil status --watch') until Ctrl-C or
SIGTERM, which stops every child (SIGTERM, then SIGKILL after
--stop-timeout) and exits 0.

Ports: data nodes use --base-port, +1, ... (default 7000: redis-1 is the
master on 7000, redis-2 on 7001, ...); Sentinels use --sentinel-port, +1,
... (default 27000). The defaults stay clear of a system Redis on
6379/26379. Every port is checked before anything starts.

Re-running with the same --dir reuses its data and configs, including the
state Sentinel rewrote, so roles survive a failover. The layout is saved
in DIR/up.json; 'vigil status' in the same directory reads it.`,
	example: `vigil up                          # then, in another terminal:
redis-cli -p 7000 SET greeting hello
redis-cli -p 27000 SENTINEL get-master-addr-by-name mymaster
vigil up --replicas 1 --dir /tmp/ha --base-port 17000 --sentinel-port 37000`,
}

// Up runs `vigil up`.
func Up(args []string) int {
	fs := upCmd.newFlags()
	replicas := fs.Int("replicas", 2, "number of replicas")
	sentinels := fs.Int("sentinels", 3, "number of Sentinels (odd)")
	quorum := fs.Int("quorum", 0, "Sentinels needed to agree the master is down (default: a majority)")
	basePort := fs.Int("base-port", 7000, "port of the master; replicas use the following ports")
	sentPort := fs.Int("sentinel-port", 27000, "port of the first Sentinel; the others use the following ports")
	dir := fs.String("dir", defaultUpDir, "directory for configs, data, logs and pidfiles")
	name := fs.String("master-name", "mymaster", "name the Sentinels monitor the master under")
	downAfter := fs.Int("down-after", 5000, "sentinel down-after-milliseconds")
	failoverTimeout := fs.Int("failover-timeout", 60000, "sentinel failover-timeout (ms)")
	noStatus := fs.Bool("no-status", false, "do not draw the live status; just wait for Ctrl-C/SIGTERM")
	stopTimeout := fs.Duration("stop-timeout", 10*time.Second, "how long to wait for children after SIGTERM before SIGKILL")
	pos, err := upCmd.parse(fs, args)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		return upCmd.fail(usagef("%v", err))
	}
	if len(pos) > 0 {
		return upCmd.fail(usagef("unexpected argument %q", pos[0]))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flagT) { set[f.Name] = true })

	// Signals first, so Ctrl-C during start-up still stops what started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		return upCmd.fail(err)
	}
	l, err := readLayout(abs)
	reused := err == nil
	if reused {
		if err := checkReuse(l, set, map[string]int{"replicas": *replicas, "sentinels": *sentinels, "quorum": *quorum,
			"base-port": *basePort, "sentinel-port": *sentPort, "down-after": *downAfter, "failover-timeout": *failoverTimeout}, *name); err != nil {
			return upCmd.fail(err)
		}
	} else {
		q := *quorum
		if q == 0 {
			q = *sentinels/2 + 1
		}
		if err := checkUpFlags(*replicas, *sentinels, q, *basePort, *sentPort, *name); err != nil {
			return upCmd.fail(err)
		}
		l = newLayout(abs, *name, *replicas, *sentinels, q, *basePort, *sentPort, *downAfter, *failoverTimeout)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return upCmd.fail(err)
	}
	upPid := filepath.Join(abs, "up.pid")
	if pid := livePidfile(upPid); pid != 0 && pid != os.Getpid() {
		return upCmd.fail(fmt.Errorf("another 'vigil up' (pid %d) is running with %s", pid, *dir))
	}
	if err := checkPorts(l); err != nil {
		return upCmd.fail(err)
	}
	for _, n := range l.Nodes {
		if err := os.MkdirAll(l.nodeDir(n), 0o755); err != nil {
			return upCmd.fail(err)
		}
		if _, err := os.Stat(l.confPath(n)); os.IsNotExist(err) {
			if err := os.WriteFile(l.confPath(n), []byte(l.config(n)), 0o644); err != nil {
				return upCmd.fail(err)
			}
		}
	}
	if err := l.write(); err != nil {
		return upCmd.fail(err)
	}
	if err := os.WriteFile(upPid, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return upCmd.fail(err)
	}
	defer os.Remove(upPid)
	exe, err := os.Executable()
	if err != nil {
		return upCmd.fail(err)
	}

	out := Stdout
	if reused {
		fmt.Fprintf(out, "Reusing %s (configs and data from the last run; Sentinel state included)\n", *dir)
	} else {
		fmt.Fprintf(out, "Creating %s: master + %d replicas, %d Sentinels (quorum %d)\n", *dir, l.Replicas, l.Sentinels, l.Quorum)
	}
	var children []*child
	shutdown := func() {
		fmt.Fprintln(out, "Stopping...")
		// Sentinels first, so stopping the master does not look like a failure.
		var ordered []*child
		for _, c := range children {
			if c.node.sentinel() {
				ordered = append(ordered, c)
			}
		}
		for i := len(children) - 1; i >= 0; i-- {
			if !children[i].node.sentinel() {
				ordered = append(ordered, children[i])
			}
		}
		stopChildren(ordered, *stopTimeout, func(s string) { fmt.Fprintln(out, "  "+s) })
		fmt.Fprintln(out, "All stopped.")
	}
	sentinelDown := 0
	for _, n := range l.Nodes {
		if ctx.Err() != nil {
			shutdown()
			return 0
		}
		fmt.Fprintf(out, "  starting %-11s %-8s 127.0.0.1:%-5d ... ", n.Name, n.Role, n.Port)
		start := time.Now()
		c, err := startChild(exe, l, n)
		if err == nil {
			children = append(children, c)
			err = c.waitReady(ctx, 15*time.Second)
		}
		if errors.Is(err, errInterrupted) {
			fmt.Fprintln(out, "interrupted")
			shutdown()
			return 0
		}
		if err != nil {
			fmt.Fprintln(out, "FAILED")
			why := lastLogLine(l, n)
			if !n.sentinel() {
				shutdown()
				return upCmd.fail(fmt.Errorf("%s did not start: %v%s", n.Name, err, why))
			}
			sentinelDown++
			fmt.Fprintf(out, "    %s is down: %v%s (continuing without it)\n", n.Name, err, why)
			continue
		}
		fmt.Fprintf(out, "ok (pid %d, %.1fs)\n", c.pid(), time.Since(start).Seconds())
	}
	fmt.Fprint(out, connectHelp(l, *dir))
	if sentinelDown > 0 {
		fmt.Fprintf(out, "\nWARNING: %d of %d Sentinels are down; failover needs %d.\n", sentinelDown, l.Sentinels, l.Quorum)
	}
	if *noStatus {
		fmt.Fprintln(out, "\nRunning. Ctrl-C (or SIGTERM) stops everything.")
		<-ctx.Done()
	} else {
		t := l.target(Target{Timeout: time.Second})
		tty := isTerminal(out)
		Watch(ctx, t, out, WatchOptions{TTY: tty, Header: func() string { return processHeader(children, tty) }})
	}
	shutdown()
	return 0
}

func lastLogLine(l *layout, n localNode) string {
	lines := append(tail(l.consolePath(n), 2), tail(l.logPath(n), 2)...)
	if len(lines) == 0 {
		return ""
	}
	return ": " + lines[len(lines)-1]
}

func checkUpFlags(replicas, sentinels, quorum, basePort, sentPort int, name string) error {
	switch {
	case replicas < 0 || replicas > 50:
		return usagef("--replicas must be between 0 and 50")
	case sentinels < 0 || sentinels > 50:
		return usagef("--sentinels must be between 0 and 50")
	case sentinels > 0 && (quorum < 1 || quorum > sentinels):
		return usagef("--quorum %d must be between 1 and the number of Sentinels (%d)", quorum, sentinels)
	case basePort < 1 || basePort+replicas > 65535:
		return usagef("--base-port %d leaves no room for %d data nodes", basePort, replicas+1)
	case sentPort < 1 || sentPort+sentinels-1 > 65535:
		return usagef("--sentinel-port %d leaves no room for %d Sentinels", sentPort, sentinels)
	case sentinels > 0 && sentPort <= basePort+replicas && basePort <= sentPort+sentinels-1:
		return usagef("data node ports %d-%d overlap Sentinel ports %d-%d", basePort, basePort+replicas, sentPort, sentPort+sentinels-1)
	case !masterNameRE.MatchString(name):
		return usagef("--master-name %q must be letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// checkReuse refuses flags that contradict the saved layout.
func checkReuse(l *layout, set map[string]bool, vals map[string]int, name string) error {
	saved := map[string]int{"replicas": l.Replicas, "sentinels": l.Sentinels, "quorum": l.Quorum, "base-port": l.BasePort,
		"sentinel-port": l.SentinelBasePort, "down-after": l.DownAfterMS, "failover-timeout": l.FailoverTimeout}
	for _, k := range []string{"replicas", "sentinels", "quorum", "base-port", "sentinel-port", "down-after", "failover-timeout"} {
		if set[k] && vals[k] != saved[k] {
			return fmt.Errorf("%s was created with --%s %d; drop --%s or use a new --dir", l.dir, k, saved[k], k)
		}
	}
	if set["master-name"] && name != l.MasterName {
		return fmt.Errorf("%s was created with --master-name %s; drop --master-name or use a new --dir", l.dir, l.MasterName)
	}
	return nil
}

// checkPorts makes sure every port is free before anything starts.
func checkPorts(l *layout) error {
	var busy []string
	for _, n := range l.Nodes {
		ln, err := net.Listen("tcp", n.addr())
		if err == nil {
			ln.Close()
			continue
		}
		msg := fmt.Sprintf("port %d (%s) is already in use", n.Port, n.Name)
		if pid := livePidfile(l.pidPath(n)); pid != 0 {
			msg += fmt.Sprintf(" by pid %d from an earlier run (%s)", pid, l.pidPath(n))
		}
		busy = append(busy, msg)
	}
	switch len(busy) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s; stop it or choose other ports (--base-port, --sentinel-port, or a new --dir)", busy[0])
	}
	return fmt.Errorf("%s (and %d more ports); stop them or choose other ports (--base-port, --sentinel-port, or a new --dir)", busy[0], len(busy)-1)
}

func connectHelp(l *layout, dir string) string {
	var w strings.Builder
	m := l.Nodes[0]
	fmt.Fprintf(&w, "\nListening on 127.0.0.1 (data in %s):\n", dir)
	for _, n := range l.Nodes {
		conf := l.confPath(n)
		fmt.Fprintf(&w, "  %-11s %-8s 127.0.0.1:%-5d  log %s\n", n.Name, n.Role, n.Port, rel(conf, l.logPath(n)))
	}
	fmt.Fprintf(&w, "\nConnect:\n  redis-cli -p %d                        # the master at start\n", m.Port)
	if s := l.sentinelNodes(); len(s) > 0 {
		fmt.Fprintf(&w, "  redis-cli -p %d SENTINEL get-master-addr-by-name %s\n", s[0].Port, l.MasterName)
	}
	fmt.Fprintf(&w, "  vigil status --dir %s [--watch]\n", dir)
	return w.String()
}

func rel(_, p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

// processHeader lists the children and their state above the status.
func processHeader(children []*child, tty bool) string {
	if !tty {
		return ""
	}
	var w strings.Builder
	w.WriteString("vigil up: ")
	for i, c := range children {
		if i > 0 {
			w.WriteString(", ")
		}
		state := strconv.Itoa(c.pid())
		if c.exited() {
			state = "exited: " + exitText(c.err)
		}
		fmt.Fprintf(&w, "%s[%s]", c.node.Name, state)
	}
	w.WriteString("\n\n")
	return w.String()
}
