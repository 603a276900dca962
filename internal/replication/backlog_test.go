package replication

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The backlog must return exactly the stream bytes after any offset it
// still holds, across wrap-around, and refuse offsets it no longer holds.
func TestBacklogMatchesStream(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	b := NewBacklog(16 * 1024)
	var stream []byte
	for i := 0; i < 2000; i++ {
		p := make([]byte, rnd.IntN(300)+1)
		for j := range p {
			p[j] = byte(rnd.IntN(256))
		}
		stream = append(stream, p...)
		b.Write(p)
		if b.End() != int64(len(stream)) {
			t.Fatalf("end %d != %d", b.End(), len(stream))
		}
		for k := 0; k < 3; k++ {
			off := int64(rnd.IntN(len(stream) + 1))
			got, ok := b.From(off)
			held := int64(len(stream))-off <= b.Size()
			if ok != held {
				t.Fatalf("offset %d: ok=%v want %v", off, ok, held)
			}
			if ok && !bytes.Equal(got, stream[off:]) {
				t.Fatalf("offset %d: wrong bytes", off)
			}
		}
	}
	big := bytes.Repeat([]byte("x"), 40*1024)
	b.Write(big)
	stream = append(stream, big...)
	got, ok := b.From(int64(len(stream)) - b.Size())
	if !ok || !bytes.Equal(got, stream[len(stream)-int(b.Size()):]) {
		t.Fatal("oversized write not kept correctly")
	}
	b.Resize(32 * 1024)
	got, ok = b.From(int64(len(stream)) - 16*1024)
	if !ok || !bytes.Equal(got, stream[len(stream)-16*1024:]) {
		t.Fatal("resize lost data")
	}
}
