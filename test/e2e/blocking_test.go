package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

// Blocking list / sorted set commands across several connections.

func blockingInfoField(t *testing.T, c *testutil.Client, field string) int64 {
	t.Helper()
	v := c.MustDo(t, "INFO", "clients")
	for _, line := range strings.Split(string(v.Str), "\r\n") {
		if strings.HasPrefix(line, field+":") {
			n, _ := strconv.ParseInt(strings.TrimPrefix(line, field+":"), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in INFO clients: %q", field, v.Str)
	return 0
}

func blockingWaitBlocked(t *testing.T, c *testutil.Client, n int64) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "blocked_clients == "+strconv.FormatInt(n, 10), func() bool {
		return blockingInfoField(t, c, "blocked_clients") == n
	})
}

func blockingElems(v resp.Value) []string {
	var out []string
	for _, e := range v.Elems {
		out = append(out, string(e.Str))
	}
	return out
}

func blockingSend(t *testing.T, c *testutil.Client, args ...string) {
	t.Helper()
	if err := c.Send(args...); err != nil {
		t.Fatal(err)
	}
}

func blockingRead(t *testing.T, c *testutil.Client) resp.Value {
	t.Helper()
	v, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBlockingListFIFO(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctl := testutil.MustDial(t, p.Addr)
	var waiters []*testutil.Client
	for i := 0; i < 4; i++ {
		w := testutil.MustDial(t, p.Addr)
		blockingSend(t, w, "BLPOP", "q", "0")
		// Make the blocking order deterministic.
		blockingWaitBlocked(t, ctl, int64(i+1))
		waiters = append(waiters, w)
	}
	// One push of four elements serves the four clients oldest first.
	if v := ctl.MustDo(t, "RPUSH", "q", "a", "b", "c", "d"); v.Int != 4 {
		t.Fatalf("RPUSH: %v", v)
	}
	for i, w := range waiters {
		got := blockingElems(blockingRead(t, w))
		want := []string{"q", string(rune('a' + i))}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("waiter %d got %v want %v", i, got, want)
		}
	}
	blockingWaitBlocked(t, ctl, 0)
	if v := ctl.MustDo(t, "EXISTS", "q"); v.Int != 0 {
		t.Fatalf("list should be gone: %v", v)
	}
	// Several keys: served by the first key that gets data.
	w := waiters[0]
	blockingSend(t, w, "BRPOP", "k1", "k2", "k3", "0")
	blockingWaitBlocked(t, ctl, 1)
	ctl.MustDo(t, "LPUSH", "k3", "x")
	if got := blockingElems(blockingRead(t, w)); strings.Join(got, ",") != "k3,x" {
		t.Fatalf("multi-key BRPOP got %v", got)
	}
	// The connection works normally afterwards.
	if v := w.MustDo(t, "PING"); string(v.Str) != "PONG" {
		t.Fatalf("PING after block: %v", v)
	}
}

func TestBlockingTimeoutPrecision(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	c := testutil.MustDial(t, p.Addr)
	for _, tc := range []struct {
		args []string
		min  time.Duration
	}{
		{[]string{"BLPOP", "nokey", "0.15"}, 150 * time.Millisecond},
		{[]string{"BZPOPMIN", "nokey", "0.1"}, 100 * time.Millisecond},
		{[]string{"BLMOVE", "nokey", "dst", "LEFT", "RIGHT", "0.05"}, 50 * time.Millisecond},
		{[]string{"BLMPOP", "0.1", "2", "a", "b", "LEFT"}, 100 * time.Millisecond},
		{[]string{"BZMPOP", "0.1", "1", "a", "MAX", "COUNT", "2"}, 100 * time.Millisecond},
	} {
		start := time.Now()
		v := c.MustDo(t, tc.args...)
		el := time.Since(start)
		if !v.Null || v.Type != '*' {
			t.Fatalf("%v: want null array, got %v", tc.args, v)
		}
		if el < tc.min || el > tc.min+900*time.Millisecond {
			t.Fatalf("%v: took %v", tc.args, el)
		}
	}
	// RESP3 timeouts are the RESP3 null.
	c.MustDo(t, "HELLO", "3")
	if v := c.MustDo(t, "BRPOP", "nokey", "0.01"); v.Type != '_' {
		t.Fatalf("RESP3 timeout: %v", v)
	}
}

func TestBlockingZSetAndMove(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctl := testutil.MustDial(t, p.Addr)
	a := testutil.MustDial(t, p.Addr)
	b := testutil.MustDial(t, p.Addr)
	blockingSend(t, a, "BZPOPMAX", "z", "0")
	blockingWaitBlocked(t, ctl, 1)
	blockingSend(t, b, "BZMPOP", "0", "1", "z", "MIN", "COUNT", "10")
	blockingWaitBlocked(t, ctl, 2)
	ctl.MustDo(t, "ZADD", "z", "1", "one", "2", "two", "3", "three")
	if got := blockingElems(blockingRead(t, a)); strings.Join(got, ",") != "z,three,3" {
		t.Fatalf("BZPOPMAX got %v", got)
	}
	v := blockingRead(t, b)
	if len(v.Elems) != 2 || string(v.Elems[0].Str) != "z" || len(v.Elems[1].Elems) != 2 {
		t.Fatalf("BZMPOP got %v", v)
	}
	// BLMOVE chain: a waits on src, b on dst; a push to src moves to dst,
	// which then serves b.
	blockingSend(t, a, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	blockingWaitBlocked(t, ctl, 1)
	blockingSend(t, b, "BLPOP", "dst", "0")
	blockingWaitBlocked(t, ctl, 2)
	ctl.MustDo(t, "RPUSH", "src", "v")
	if v := blockingRead(t, a); string(v.Str) != "v" {
		t.Fatalf("BLMOVE got %v", v)
	}
	if got := blockingElems(blockingRead(t, b)); strings.Join(got, ",") != "dst,v" {
		t.Fatalf("chained BLPOP got %v", got)
	}
	// Source == destination rotates.
	ctl.MustDo(t, "RPUSH", "r", "1", "2", "3")
	if v := a.MustDo(t, "BLMOVE", "r", "r", "LEFT", "RIGHT", "0"); string(v.Str) != "1" {
		t.Fatalf("rotate: %v", v)
	}
	if got := blockingElems(ctl.MustDo(t, "LRANGE", "r", "0", "-1")); strings.Join(got, ",") != "2,3,1" {
		t.Fatalf("rotate result %v", got)
	}
}

func TestBlockingTypeChangeAndDelete(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctl := testutil.MustDial(t, p.Addr)
	w := testutil.MustDial(t, p.Addr)
	blockingSend(t, w, "BLPOP", "k", "0")
	blockingWaitBlocked(t, ctl, 1)
	// Redis 7.0: a key that becomes another type doesn't serve (or fail)
	// the waiting client; it keeps waiting.
	ctl.MustDo(t, "SET", "k", "str")
	ctl.MustDo(t, "DEL", "k")
	ctl.MustDo(t, "ZADD", "k", "1", "m")
	time.Sleep(50 * time.Millisecond)
	if n := blockingInfoField(t, ctl, "blocked_clients"); n != 1 {
		t.Fatalf("client should still be blocked, blocked_clients=%d", n)
	}
	ctl.MustDo(t, "DEL", "k")
	ctl.MustDo(t, "LPUSH", "k", "finally")
	if got := blockingElems(blockingRead(t, w)); strings.Join(got, ",") != "k,finally" {
		t.Fatalf("got %v", got)
	}
	// BLMOVE whose destination became the wrong type fails when served.
	blockingSend(t, w, "BLMOVE", "s", "d", "LEFT", "LEFT", "0")
	blockingWaitBlocked(t, ctl, 1)
	ctl.MustDo(t, "SET", "d", "x")
	ctl.MustDo(t, "RPUSH", "s", "e")
	if v := blockingRead(t, w); v.Type != '-' || !strings.HasPrefix(string(v.Str), "WRONGTYPE") {
		t.Fatalf("want WRONGTYPE, got %v", v)
	}
	if v := ctl.MustDo(t, "LLEN", "s"); v.Int != 1 {
		t.Fatalf("source must keep its element: %v", v)
	}
}

func TestBlockingClientUnblock(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctl := testutil.MustDial(t, p.Addr)
	w := testutil.MustDial(t, p.Addr)
	id := w.MustDo(t, "CLIENT", "ID").Int
	blockingSend(t, w, "BLPOP", "nokey", "0")
	blockingWaitBlocked(t, ctl, 1)
	if v := ctl.MustDo(t, "CLIENT", "UNBLOCK", strconv.FormatInt(id, 10)); v.Int != 1 {
		t.Fatalf("CLIENT UNBLOCK: %v", v)
	}
	if v := blockingRead(t, w); !v.Null {
		t.Fatalf("timeout-unblocked BLPOP: %v", v)
	}
	blockingSend(t, w, "BZPOPMIN", "nokey", "0")
	blockingWaitBlocked(t, ctl, 1)
	ctl.MustDo(t, "CLIENT", "UNBLOCK", strconv.FormatInt(id, 10), "ERROR")
	if v := blockingRead(t, w); v.Type != '-' || !strings.HasPrefix(string(v.Str), "UNBLOCKED") {
		t.Fatalf("error-unblocked BZPOPMIN: %v", v)
	}
	if v := ctl.MustDo(t, "CLIENT", "UNBLOCK", strconv.FormatInt(id, 10)); v.Int != 0 {
		t.Fatalf("unblocking a non-blocked client: %v", v)
	}
	// A blocked client that later times out by itself, after an unblock,
	// must not be woken early by a stale signal.
	blockingSend(t, w, "BLPOP", "nokey", "0.2")
	start := time.Now()
	v := blockingRead(t, w)
	if !v.Null || time.Since(start) < 190*time.Millisecond {
		t.Fatalf("BLPOP 0.2 returned %v after %v", v, time.Since(start))
	}
	blockingSend(t, w, "BLPOP", "nokey", "0.2")
	start = time.Now()
	v = blockingRead(t, w)
	if !v.Null || time.Since(start) < 190*time.Millisecond {
		t.Fatalf("second BLPOP 0.2 returned %v after %v", v, time.Since(start))
	}
}

func TestBlockingInMulti(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	c := testutil.MustDial(t, p.Addr)
	c.MustDo(t, "MULTI")
	c.MustDo(t, "BLPOP", "nokey", "0")
	c.MustDo(t, "BLMOVE", "nokey", "d", "LEFT", "LEFT", "0")
	c.MustDo(t, "BZPOPMIN", "nokey", "0")
	v := c.MustDo(t, "EXEC")
	if len(v.Elems) != 3 || !v.Elems[0].Null || v.Elems[0].Type != '*' || !v.Elems[1].Null || v.Elems[1].Type != '$' || !v.Elems[2].Null {
		t.Fatalf("EXEC: %v", v)
	}
	// A push inside MULTI serves a client blocked elsewhere after EXEC.
	ctl := testutil.MustDial(t, p.Addr)
	w := testutil.MustDial(t, p.Addr)
	blockingSend(t, w, "BLPOP", "k", "0")
	blockingWaitBlocked(t, ctl, 1)
	ctl.MustDo(t, "MULTI")
	ctl.MustDo(t, "RPUSH", "k", "1", "2")
	ctl.MustDo(t, "LPOP", "k")
	ctl.MustDo(t, "EXEC")
	if got := blockingElems(blockingRead(t, w)); strings.Join(got, ",") != "k,2" {
		t.Fatalf("got %v", got)
	}
}

func TestBlockingDisconnectNoLeak(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctl := testutil.MustDial(t, p.Addr)
	goroutines := func() int64 {
		v := ctl.MustDo(t, "DEBUG", "GOROUTINES")
		if v.Type != ':' {
			t.Fatalf("DEBUG GOROUTINES: %v", v)
		}
		return v.Int
	}
	base := goroutines()
	var conns []*testutil.Client
	for i := 0; i < 20; i++ {
		c, err := testutil.Dial(p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		cmd := []string{"BLPOP", "k" + strconv.Itoa(i%3), "0"}
		if i%2 == 1 {
			cmd = []string{"BZPOPMIN", "z", "100"}
		}
		blockingSend(t, c, cmd...)
		conns = append(conns, c)
	}
	blockingWaitBlocked(t, ctl, 20)
	for _, c := range conns {
		c.Close()
	}
	blockingWaitBlocked(t, ctl, 0)
	testutil.Eventually(t, 5*time.Second, "goroutines back to baseline", func() bool {
		return goroutines() <= base
	})
	// Pushing to the keys afterwards finds nobody and keeps the data.
	ctl.MustDo(t, "RPUSH", "k0", "x")
	if v := ctl.MustDo(t, "LLEN", "k0"); v.Int != 1 {
		t.Fatalf("LLEN: %v", v)
	}
}
