// Command latprobe measures client latency around a background job (a
// BGSAVE, a replica's full sync) precisely in time, which redis-benchmark
// can't: it reports one p99 for its whole run, so a run that starts before
// the job or ends after it dilutes (or misses) the job's effect.
//
// It runs -clients connections, each sending one command at a time in a
// closed loop (like redis-benchmark -P 1), and records every request's
// start time and latency. At -trigger-at it sends -trigger (e.g. BGSAVE) to
// -trigger-addr, then polls INFO on -watch every 5 ms; the job runs while
// -busy-field has -busy-value (e.g. rdb_bgsave_in_progress:1, or for a
// replica's full sync master_link_status:!up on the replica). It prints
// the throughput and latency percentiles of the requests that started
// before the job, during it and after it, and with -series a row per
// -interval.
//
// Usable against any RESP server (redis-server and vigil alike), alone or
// next to a redis-benchmark load (bench/persistence.sh,
// bench/replication.sh).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
)

type sample struct {
	at  time.Duration // since the run began
	lat time.Duration
}

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "server under test")
	clients := flag.Int("clients", 50, "connections")
	cmd := flag.String("cmd", "set", "set or get")
	keys := flag.Int("keys", 1000000, "random key space (key:%012d like redis-benchmark -r)")
	size := flag.Int("d", 16, "SET value size")
	dur := flag.Duration("duration", 3*time.Second, "run length")
	triggerAt := flag.Duration("trigger-at", 500*time.Millisecond, "when to send -trigger")
	trigger := flag.String("trigger", "BGSAVE", "command that starts the job (empty: none)")
	triggerAddr := flag.String("trigger-addr", "", "where to send it (default -addr)")
	watch := flag.String("watch", "", "server whose INFO tells when the job runs (default -addr)")
	busyField := flag.String("busy-field", "rdb_bgsave_in_progress", "INFO field that shows the job running")
	busyValue := flag.String("busy-value", "1", "its value while the job runs (!v: any value but v)")
	interval := flag.Duration("interval", 100*time.Millisecond, "series interval")
	series := flag.Bool("series", false, "print a row per interval")
	slowest := flag.Int("slow", 0, "also print the N slowest requests: when they started (since the run began) and how long they took")
	brief := flag.Bool("brief", false, "print only \"job_ms p99_before p99_during p99_after\" (ms; - for none), for scripts")
	flag.Parse()
	if *triggerAddr == "" {
		*triggerAddr = *addr
	}
	if *watch == "" {
		*watch = *addr
	}

	conns := make([]*conn, *clients)
	for i := range conns {
		c, err := dial(*addr)
		if err != nil {
			fail("connect %s: %v", *addr, err)
		}
		conns[i] = c
	}
	value := []byte(strings.Repeat("x", *size))
	// The samples are the only garbage-free allocation that grows; no GC
	// cycle of the probe's own should land in what it measures.
	debug.SetGCPercent(-1)
	start := time.Now()
	stop := start.Add(*dur)
	results := make([][]sample, *clients)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			out := make([]sample, 0, 1<<20)
			var buf, key []byte
			args := [][]byte{[]byte("SET"), nil, value}
			if *cmd == "get" {
				args = [][]byte{[]byte("GET"), nil}
			}
			for {
				t0 := time.Now()
				if t0.After(stop) {
					break
				}
				key = fmt.Appendf(key[:0], "key:%012d", r.IntN(*keys))
				args[1] = key
				buf = resp.AppendCommandBytes(buf[:0], args)
				if _, err := c.w.Write(buf); err != nil {
					fail("write: %v", err)
				}
				if err := c.w.Flush(); err != nil {
					fail("write: %v", err)
				}
				if err := c.skipReply(); err != nil {
					fail("%v", err)
				}
				out = append(out, sample{t0.Sub(start), time.Since(t0)})
			}
			results[i] = out
		}()
	}

	// The job: trigger it, then watch INFO until it is over.
	var jobStart, jobEnd time.Duration = -1, -1
	var jobErr error
	if *trigger != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jobStart, jobEnd, jobErr = runJob(start, *triggerAt, *triggerAddr, *trigger, *watch, *busyField, *busyValue, stop)
		}()
	}
	wg.Wait()
	if jobErr != nil {
		fail("job: %v", jobErr)
	}

	var all []sample
	for _, r := range results {
		all = append(all, r...)
	}
	if *slowest > 0 {
		// To find them in a server's runtime trace (VIGIL_SNAPSHOT_TRACE),
		// whose first event carries its wall-clock time.
		slow := slices.Clone(all)
		slices.SortFunc(slow, func(a, b sample) int { return int(b.lat - a.lat) })
		fmt.Printf("start %s\n", start.UTC().Format("15:04:05.000000"))
		for _, s := range slow[:min(*slowest, len(slow))] {
			fmt.Printf("slow at=%.3fms lat=%.3fms\n", float64(s.at)/1e6, float64(s.lat)/1e6)
		}
	}
	slices.SortFunc(all, func(a, b sample) int { return int(a.at - b.at) })
	if *series {
		fmt.Printf("%8s %8s %9s %9s %9s %s\n", "t_ms", "ops/s", "p50_ms", "p99_ms", "max_ms", "job")
		for t := time.Duration(0); t < *dur; t += *interval {
			w := window(all, t, t+*interval)
			mark := ""
			if jobStart >= 0 && t+*interval > jobStart && (jobEnd < 0 || t < jobEnd) {
				mark = "*"
			}
			printRow(fmt.Sprintf("%8d", t.Milliseconds()), w, *interval, mark)
		}
	}
	if jobStart < 0 {
		fmt.Printf("all: %s\n", summary(all, *dur))
		return
	}
	end := jobEnd
	if end < 0 {
		fmt.Fprintln(os.Stderr, "latprobe: the job was still running at the end of the run")
		end = *dur
	}
	if *brief {
		after := "-"
		if end < *dur {
			after = fmt.Sprintf("%.3f", pct(lats(window(all, end, *dur)), .99))
		}
		fmt.Printf("%.0f %.3f %.3f %s\n", float64(end-jobStart)/1e6,
			pct(lats(window(all, 0, jobStart)), .99), pct(lats(window(all, jobStart, end)), .99), after)
		return
	}
	fmt.Printf("job_ms %.1f\n", float64(end-jobStart)/1e6)
	fmt.Printf("before: %s\n", summary(window(all, 0, jobStart), jobStart))
	fmt.Printf("during: %s\n", summary(window(all, jobStart, end), end-jobStart))
	if end < *dur {
		fmt.Printf("after: %s\n", summary(window(all, end, *dur), *dur-end))
	}
}

// runJob sends the trigger at the given time and returns when INFO first
// showed the job running (the trigger time) and when it stopped.
func runJob(start time.Time, at time.Duration, taddr, trigger, waddr, field, value string, stop time.Time) (time.Duration, time.Duration, error) {
	tc, err := dial(taddr)
	if err != nil {
		return -1, -1, err
	}
	defer tc.nc.Close()
	wc, err := dial(waddr)
	if err != nil {
		return -1, -1, err
	}
	defer wc.nc.Close()
	time.Sleep(time.Until(start.Add(at)))
	begun := time.Since(start)
	if _, err := tc.do(strings.Fields(trigger)...); err != nil {
		return -1, -1, err
	}
	seen := false
	for time.Now().Before(stop) {
		info, err := wc.do("INFO")
		if err != nil {
			return -1, -1, err
		}
		var running bool
		if v, ok := strings.CutPrefix(value, "!"); ok {
			running = infoField(info, field) != v
		} else {
			running = infoField(info, field) == value
		}
		if running {
			seen = true
		} else if seen || time.Since(start) > at+2*time.Second {
			return begun, time.Since(start), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return begun, -1, nil
}

func infoField(info, field string) string {
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	return ""
}

func window(all []sample, from, to time.Duration) []sample {
	i, _ := slices.BinarySearchFunc(all, from, func(s sample, t time.Duration) int { return int(s.at - t) })
	j, _ := slices.BinarySearchFunc(all, to, func(s sample, t time.Duration) int { return int(s.at - t) })
	return all[i:j]
}

func pct(lats []time.Duration, p float64) float64 {
	if len(lats) == 0 {
		return 0
	}
	i := min(int(float64(len(lats))*p), len(lats)-1)
	return float64(lats[i]) / 1e6
}

func lats(w []sample) []time.Duration {
	l := make([]time.Duration, len(w))
	for i, s := range w {
		l[i] = s.lat
	}
	slices.Sort(l)
	return l
}

func summary(w []sample, d time.Duration) string {
	l := lats(w)
	rate := 0.0
	if d > 0 {
		rate = float64(len(w)) / d.Seconds()
	}
	return fmt.Sprintf("n=%d ops/s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f", len(w), rate, pct(l, .5), pct(l, .99), pct(l, .999), pct(l, 1))
}

func printRow(t string, w []sample, d time.Duration, mark string) {
	l := lats(w)
	fmt.Printf("%s %8.0f %9.3f %9.3f %9.3f %s\n", t, float64(len(w))/d.Seconds(), pct(l, .5), pct(l, .99), pct(l, 1), mark)
}

type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func dial(addr string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{nc, bufio.NewReader(nc), bufio.NewWriter(nc)}, nil
}

// do sends a command and returns its reply's text (an error reply as an
// error).
func (c *conn) do(args ...string) (string, error) {
	if _, err := c.w.Write(resp.AppendCommand(nil, args...)); err != nil {
		return "", err
	}
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	v, err := resp.NewReplyReader(c.r).Read()
	if err == nil {
		err = v.Err()
	}
	return string(v.Str), err
}

// skipReply reads one status, integer or bulk reply without allocating,
// and fails on an error reply.
func (c *conn) skipReply() error {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read: %v", err)
	}
	switch line[0] {
	case '-':
		return fmt.Errorf("reply: %s", strings.TrimSpace(string(line)))
	case '$':
		n, err := strconv.Atoi(strings.TrimSpace(string(line[1:])))
		if err != nil {
			return fmt.Errorf("bad bulk header %q", line)
		}
		if n >= 0 {
			_, err = c.r.Discard(n + 2)
		}
		return err
	}
	return nil
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "latprobe: "+format+"\n", a...)
	os.Exit(1)
}
