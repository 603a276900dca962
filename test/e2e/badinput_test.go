package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

func badGoroutines(t *testing.T, c *testutil.Client) int64 {
	t.Helper()
	v := c.MustDo(t, "DEBUG", "GOROUTINES")
	if v.Type != ':' {
		t.Fatalf("DEBUG GOROUTINES: %s", v)
	}
	return v.Int
}

// A "master" that answers the handshake and then streams garbage must not
// crash a replica or hurt its other clients; the replica keeps retrying.
func TestReplicaSurvivesGarbageMaster(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	garbage := []string{
		"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$5\r\nREDIS", // truncated RDB
		"+FULLRESYNC x 0\r\n$-7\r\n",
		"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$EOF:short\r\nnot an rdb",
		"+CONTINUE\r\n*99999999999\r\n",
		"+CONTINUE\r\n*2\r\n$3\r\nSET\r\n$100000000000\r\n",
		"\x00\x01\x02\xff\r\n*-1\r\n:garbage\r\n",
	}
	var served sync.WaitGroup
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func(conn net.Conn, g string) {
				defer served.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				// Answer the handshake (PING, REPLCONF x2, PSYNC) with +OK.
				for j := 0; j < 4; j++ {
					if err := skipCommand(r); err != nil {
						return
					}
					if j < 3 {
						conn.Write([]byte("+OK\r\n"))
					}
				}
				conn.Write([]byte(g))
				time.Sleep(100 * time.Millisecond)
			}(conn, garbage[i%len(garbage)])
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(port)}})
	c := testutil.MustDial(t, p.Addr)
	// Let it go through every kind of garbage at least once.
	testutil.Eventually(t, 20*time.Second, "several garbage sessions", func() bool {
		return strings.Count(p.ReadLog(), "MASTER <-> REPLICA sync started") >= len(garbage)+1
	})
	// INFO is served even while a garbage session is being loaded; PING
	// answers -LOADING then (as Redis's does), so it is polled for PONG
	// between sessions.
	if v := c.MustDo(t, "INFO", "replication"); v.Type != '$' || !strings.Contains(string(v.Str), "role:slave") {
		t.Fatalf("replica unhealthy after garbage: INFO replication: %s", v)
	}
	testutil.Eventually(t, 10*time.Second, "the replica answers PING between garbage sessions", func() bool {
		v, err := c.Do("PING")
		if err != nil {
			t.Fatalf("replica unhealthy after garbage: PING: %v", err)
		}
		if v.Type == '-' && !strings.HasPrefix(string(v.Str), "LOADING") {
			t.Fatalf("replica unhealthy after garbage: PING: %s", v)
		}
		return v.String() == "PONG"
	})
	if p.Exited() {
		t.Fatalf("replica exited:\n%s", p.ReadLog())
	}
}

// skipCommand reads one RESP multibulk command.
func skipCommand(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	for i := 0; i < n; i++ {
		l, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		sz, _ := strconv.Atoi(strings.TrimSpace(l[1:]))
		buf := make([]byte, sz+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return err
		}
	}
	return nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// 1,000 simultaneous clients are served, and when they leave no goroutine
// is left behind.
func TestThousandClientsNoLeak(t *testing.T) {
	t.Parallel()
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--maxclients", "2000"}})
	admin := testutil.MustDial(t, p.Addr)
	base := badGoroutines(t, admin)
	conns := make([]*testutil.Client, 0, 1000)
	for i := 0; i < 1000; i++ {
		c, err := testutil.Dial(p.Addr)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		if err := c.Send("SET", fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		if v, err := c.Read(); err != nil || v.String() != "OK" {
			t.Fatalf("client %d: %v %v", i, v, err)
		}
	}
	if n := admin.MustDo(t, "DBSIZE").Int; n != 1000 {
		t.Fatalf("dbsize %d", n)
	}
	for _, c := range conns {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, "goroutines back to baseline", func() bool {
		return badGoroutines(t, admin) <= base+5
	})
}

// A subscriber that never reads is disconnected by the pub/sub output
// buffer limit instead of growing the server's memory without bound, and
// other clients are unaffected.
func TestSlowSubscriberCutOff(t *testing.T) {
	t.Parallel()
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--client-output-buffer-limit", "pubsub", "1mb", "512kb", "1"}})
	slow, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if tc, ok := slow.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	slow.Write([]byte("*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"))
	pub := testutil.MustDial(t, p.Addr)
	testutil.Eventually(t, 5*time.Second, "subscription registered", func() bool {
		v := pub.MustDo(t, "PUBSUB", "NUMSUB", "ch")
		return len(v.Elems) == 2 && v.Elems[1].Int == 1
	})
	payload := strings.Repeat("x", 64*1024)
	cut := false
	for i := 0; i < 2000 && !cut; i++ {
		v := pub.MustDo(t, "PUBLISH", "ch", payload)
		if v.Int == 0 {
			cut = true
		}
	}
	if !cut {
		t.Fatal("slow subscriber still subscribed after 128 MB published")
	}
	if v := pub.MustDo(t, "PING"); v.String() != "PONG" {
		t.Fatalf("publisher affected: %s", v)
	}
	if !strings.Contains(p.ReadLog(), "output buffer limits") {
		t.Fatalf("no log line for the disconnection:\n%s", p.ReadLog())
	}
}
