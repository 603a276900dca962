package rdb

import (
	"fmt"
	"testing"
)

func BenchmarkCRC64(b *testing.B) {
	p := make([]byte, 1<<20)
	for i := range p {
		p[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		CRC64(p)
	}
}

// TestCRC64Streams checks the three-stream path against the plain one for
// every length around the block boundaries and continued CRCs.
func TestCRC64Streams(t *testing.T) {
	p := make([]byte, 7*crcBlock+13)
	for i := range p {
		p[i] = byte(i*131 + i>>7)
	}
	for _, n := range []int{0, 1, 3*crcBlock - 1, 3 * crcBlock, 3*crcBlock + 1, 6 * crcBlock, len(p)} {
		for _, init := range []uint64{0, 0x0123456789abcdef} {
			if got, want := CRC64Update(init, p[:n]), crc64Slice8(init, p[:n]); got != want {
				t.Fatalf("n=%d init=%x: %x, want %x", n, init, got, want)
			}
		}
	}
	if got := CRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("check value %x", got)
	}
}

func BenchmarkCRC64Slice8(b *testing.B) {
	p := make([]byte, 1<<20)
	b.SetBytes(int64(len(p)))
	for i := 0; i < b.N; i++ {
		crc64Slice8(0, p)
	}
}

// lzfBenchInput is the listpack of a hash of 100 fields f1..f100 with
// values v0000001.. (bench/persistence.sh DATASET=hashes).
func lzfBenchInput() []byte {
	var elems [][]byte
	for f := 1; f <= 100; f++ {
		elems = append(elems, []byte(fmt.Sprintf("f%d", f)), []byte(fmt.Sprintf("v%07d", f)))
	}
	return ListpackEncode(elems)
}

func BenchmarkLZFCompressListpack(b *testing.B) {
	src := lzfBenchInput()
	b.SetBytes(int64(len(src)))
	var out []byte
	for i := 0; i < b.N; i++ {
		out, _ = appendLZF(out[:0], src, len(src)-4)
	}
}

func BenchmarkLZFDecompressListpack(b *testing.B) {
	src := lzfBenchInput()
	c := LZFCompress(src, 0)
	b.SetBytes(int64(len(src)))
	dst := make([]byte, 0, len(src))
	for i := 0; i < b.N; i++ {
		if _, err := lzfDecompressInto(dst, c, len(src)); err != nil {
			b.Fatal(err)
		}
	}
}
