package replication

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// The diskless fan-out gives every live member the same bytes and drops a
// member whose socket fails without failing the others; it fails once no
// member is left.
func TestFanoutDropsFailedMember(t *testing.T) {
	type peer struct {
		local, remote net.Conn
		got           chan []byte
	}
	var peers []*peer
	f := &fanout{timeout: 2 * time.Second}
	for i := 0; i < 3; i++ {
		a, b := net.Pipe()
		p := &peer{local: a, remote: b, got: make(chan []byte, 1)}
		peers = append(peers, p)
		f.members = append(f.members, &fanMember{conn: a})
		go func() {
			data, _ := io.ReadAll(b)
			p.got <- data
		}()
	}
	f.alive = len(f.members)
	if _, err := f.Write([]byte("one ")); err != nil {
		t.Fatal(err)
	}
	// The second replica goes away.
	peers[1].remote.Close()
	if _, err := f.Write([]byte("two")); err != nil {
		t.Fatalf("a failed member failed the others: %v", err)
	}
	if f.members[1].err == nil || f.alive != 2 {
		t.Fatalf("member 1 not dropped: alive %d", f.alive)
	}
	for _, i := range []int{0, 2} {
		peers[i].local.Close()
		if got := <-peers[i].got; !bytes.Equal(got, []byte("one two")) {
			t.Fatalf("member %d got %q", i, got)
		}
	}
	if _, err := f.Write([]byte("x")); err != errNoReplicaLeft {
		t.Fatalf("with no member left: %v", err)
	}
}

// A member that stops reading is dropped after the write timeout.
func TestFanoutStalledMember(t *testing.T) {
	a, b := net.Pipe() // nobody reads b
	defer b.Close()
	c, d := net.Pipe()
	go io.Copy(io.Discard, d)
	f := &fanout{timeout: 100 * time.Millisecond, members: []*fanMember{{conn: a}, {conn: c}}, alive: 2}
	start := time.Now()
	if _, err := f.Write([]byte("payload")); err != nil {
		t.Fatal(err)
	}
	if f.members[0].err == nil || f.alive != 1 {
		t.Fatalf("stalled member kept")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
}
