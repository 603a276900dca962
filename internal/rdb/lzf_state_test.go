package rdb

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLZFReusedTable: compressing with a hash table left over from other
// inputs gives exactly the output of a fresh table (and it decompresses).
func TestLZFReusedTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var shared lzfTable
	for i := 0; i < 2000; i++ {
		n := rng.IntN(3000)
		src := make([]byte, n)
		alpha := 1 + rng.IntN(20)
		for j := range src {
			src[j] = byte('a' + rng.IntN(alpha))
		}
		var fresh lzfTable
		want := lzfCompressInto(nil, src, n+n/32+2, &fresh)
		got := lzfCompressInto(nil, src, n+n/32+2, &shared)
		if !bytes.Equal(got, want) {
			t.Fatalf("input %d (%d bytes): reused table output differs", i, n)
		}
		if n > 0 {
			out, err := LZFDecompress(got, n)
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("input %d: round trip failed: %v", i, err)
			}
		}
		if b, ok := appendLZF([]byte("x"), src, n-1); ok {
			if !bytes.HasPrefix(b[1:], appendLen([]byte{0xC3}, uint64(len(want)))) || !bytes.HasSuffix(b, want) {
				t.Fatalf("input %d: appendLZF = %x", i, b)
			}
		}
	}
}

// TestLZFTableBaseWrap: a table whose base is about to overflow is
// cleared, and the output still equals a fresh table's.
func TestLZFTableBaseWrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var shared lzfTable
	shared.base = 1<<32 - 5000
	for i := 0; i < 50; i++ {
		src := make([]byte, 100+rng.IntN(2000))
		for j := range src {
			src[j] = byte('a' + rng.IntN(4))
		}
		var fresh lzfTable
		want := lzfCompressInto(nil, src, len(src)+len(src)/32+2, &fresh)
		got := lzfCompressInto(nil, src, len(src)+len(src)/32+2, &shared)
		if !bytes.Equal(got, want) {
			t.Fatalf("input %d: output differs after base wrap", i)
		}
		out, err := LZFDecompress(got, len(src))
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("input %d: round trip failed: %v", i, err)
		}
	}
}
