package e2e

import (
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// CLIENT PAUSE WRITE holds writes (not reads) until the timeout or CLIENT
// UNPAUSE; CLIENT PAUSE ALL holds everything but CLIENT commands.
func TestClientPause(t *testing.T) {
	t.Parallel()
	p := testutil.StartVigil(t, testutil.StartOptions{})
	admin := testutil.MustDial(t, p.Addr)
	c := testutil.MustDial(t, p.Addr)
	if v := admin.MustDo(t, "CLIENT", "PAUSE", "400", "WRITE"); v.String() != "OK" {
		t.Fatalf("pause: %s", v)
	}
	start := time.Now()
	if v := c.MustDo(t, "GET", "k"); v.Type != '$' {
		t.Fatalf("get: %s", v)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("a read waited %v during a WRITE pause", d)
	}
	start = time.Now()
	if v := c.MustDo(t, "SET", "k", "v"); v.String() != "OK" {
		t.Fatalf("set: %s", v)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("a write ran after %v during a 400 ms WRITE pause", d)
	}
	// UNPAUSE ends a long pause early.
	admin.MustDo(t, "CLIENT", "PAUSE", "10000", "ALL")
	done := make(chan time.Duration, 1)
	go func() {
		s := time.Now()
		c.Do("GET", "k")
		done <- time.Since(s)
	}()
	time.Sleep(150 * time.Millisecond)
	if v := admin.MustDo(t, "CLIENT", "UNPAUSE"); v.String() != "OK" {
		t.Fatalf("unpause: %s", v)
	}
	select {
	case d := <-done:
		if d < 100*time.Millisecond {
			t.Fatalf("GET was not paused (%v)", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("GET still paused after CLIENT UNPAUSE")
	}
}
