package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// startSentinelProc starts a Sentinel (Debian's or vigil's) monitoring
// masterPort on 127.0.0.1 and stops it at cleanup.
func startSentinelProc(t *testing.T, impl string, masterPort, quorum int) string {
	t.Helper()
	dir := t.TempDir()
	port := testutil.FreePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor mymaster 127.0.0.1 %d %d\nsentinel down-after-milliseconds mymaster 2000\n",
		port, dir, filepath.Join(dir, "log"), masterPort, quorum)), 0o644)
	var cmd *exec.Cmd
	if impl == "debian" {
		cmd = exec.Command(testutil.RequireTool(t, "redis-sentinel"), conf)
	} else {
		cmd = exec.Command(testutil.VigilBin(t), "sentinel", conf)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	testutil.Eventually(t, 10*time.Second, "sentinel "+addr, func() bool {
		c, err := dial(addr, "", time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// TestCollect runs a master, a replica and two Sentinels (quorum 2) of
// each implementation and checks what Collect sees.
func TestCollect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	for _, impl := range []string{"debian", "vigil"} {
		t.Run(impl, func(t *testing.T) {
			start := testutil.StartVigil
			if impl == "debian" {
				start = testutil.StartRedis
			}
			m := start(t, testutil.StartOptions{})
			r := start(t, testutil.StartOptions{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(m.Port), "--replica-priority", "42"}})
			s1 := startSentinelProc(t, impl, m.Port, 2)
			s2 := startSentinelProc(t, impl, m.Port, 2)
			tg := Target{MasterName: "mymaster", Sentinels: []Member{{"s1", s1}, {"s2", s2}}, Nodes: []Member{{"m", m.Addr}}}
			var s *Snapshot
			testutil.Eventually(t, 20*time.Second, "a healthy snapshot", func() bool {
				s = Collect(context.Background(), tg)
				return len(s.Problems) == 0 && len(s.Nodes) == 2
			})
			if s.Master != m.Addr || !s.Agree || s.Agreeing != 2 || s.Reachable != 2 {
				t.Errorf("master %q agree %v %d/%d", s.Master, s.Agree, s.Agreeing, s.Reachable)
			}
			mn, rn := s.Nodes[0], s.Nodes[1]
			if mn.Name != "m" || mn.Role != "master" || mn.Replicas != 1 {
				t.Errorf("master node: %+v", mn)
			}
			if rn.Addr != r.Addr || rn.Role != "replica" || rn.Follows != m.Addr || rn.Link != "up" || rn.LagBytes == nil || rn.Priority == nil || *rn.Priority != 42 {
				t.Errorf("replica node: %+v", rn)
			}
			if !strings.Contains(rn.SentinelFlags, "slave") {
				t.Errorf("replica sentinel flags %q", rn.SentinelFlags)
			}
			for _, ss := range s.Sentinels {
				if !ss.CKQuorumOK || ss.Quorum != 2 || ss.OtherSentinels != 1 || ss.KnownReplicas != 1 {
					t.Errorf("sentinel: %+v", ss)
				}
			}
			var buf bytes.Buffer
			Render(&buf, s)
			for _, want := range []string{"master " + m.Addr + " (2/2 Sentinels agree)", "streaming", "No problems."} {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, buf.String())
				}
			}

			// The command: JSON out, as a script would read it.
			var out, errb bytes.Buffer
			Stdout, Stderr = &out, &errb
			defer func() { Stdout, Stderr = os.Stdout, os.Stderr }()
			if rc := Status([]string{"--sentinel", s1 + "," + s2, "--json"}); rc != 0 {
				t.Fatalf("rc %d %s", rc, errb.String())
			}
			var js Snapshot
			if err := json.Unmarshal(out.Bytes(), &js); err != nil || js.Master != m.Addr || len(js.Nodes) != 2 {
				t.Errorf("json: %v %+v\n%s", err, js, out.String())
			}

			// Events: kill the replica; the Sentinels report +sdown.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := make(chan Event, 64)
			wg := streamEvents(ctx, tg, ch)
			defer wg.Wait()
			defer cancel()
			time.Sleep(200 * time.Millisecond)
			r.Kill()
			timeout := time.After(10 * time.Second)
			for {
				select {
				case e := <-ch:
					if e.Channel == "+sdown" && strings.Contains(e.Message, r.Addr[strings.LastIndex(r.Addr, ":")+1:]) {
						return
					}
				case <-timeout:
					t.Fatal("no +sdown event for the killed replica")
				}
			}
		})
	}
}

func TestStatusNothingAnswers(t *testing.T) {
	var out, errb bytes.Buffer
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = os.Stdout, os.Stderr }()
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	rc := Status([]string{"--sentinel", addr})
	if rc != 1 || errb.String() != "vigil status: nothing answered at "+addr+"\n" {
		t.Errorf("rc %d stderr %q", rc, errb.String())
	}
	if !strings.Contains(out.String(), "no Sentinel reachable") {
		t.Errorf("stdout %q", out.String())
	}
	errb.Reset()
	if rc := Status([]string{"--sentinel", "nonsense"}); rc != 2 || !strings.Contains(errb.String(), "want HOST:PORT") {
		t.Errorf("bad flag: rc %d %q", rc, errb.String())
	}
}

// TestProblemSentinelsApart: a Sentinel that knows fewer peers than
// answer the operator is reported; one that knows them all is not.
func TestProblemSentinelsApart(t *testing.T) {
	mk := func(others ...int64) *Snapshot {
		s := &Snapshot{Master: "127.0.0.1:6379", Problems: []string{}}
		for i, o := range others {
			s.Sentinels = append(s.Sentinels, SentinelStatus{Name: fmt.Sprintf("s%d", i+1), Reachable: true,
				Master: s.Master, CKQuorumOK: true, OtherSentinels: o})
		}
		s.Reachable = len(others)
		s.derive()
		return s
	}
	if s := mk(2, 2, 2); len(s.Problems) != 0 {
		t.Errorf("three that know each other: %q", s.Problems)
	}
	s := mk(2, 0, 2)
	if len(s.Problems) != 1 || s.Problems[0] != "Sentinel s2 knows 0 other Sentinels, 2 others answer here" {
		t.Errorf("one apart: %q", s.Problems)
	}
	// A Sentinel that also knows one the operator didn't list is fine.
	if s := mk(2, 2); len(s.Problems) != 0 {
		t.Errorf("an unlisted peer: %q", s.Problems)
	}
}
