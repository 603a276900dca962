package rdb

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// TestLoadWindowBoundaries loads the golden files through readers that cut
// the input everywhere (one byte per Read, the smallest bufio buffer) and
// checks the result is the same as from memory, so values split across
// read-ahead windows decode the same.
func TestLoadWindowBoundaries(t *testing.T) {
	for _, name := range []string{"all.rdb", "all-nocompress.rdb", "all-lfu.rdb"} {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		var want collector
		if _, err := Load(bytes.NewReader(data), &want); err != nil {
			t.Fatal(err)
		}
		readers := map[string]func() io.Reader{
			"onebyte":      func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"bufio16":      func() io.Reader { return bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(data)), 16) },
			"bufio100":     func() io.Reader { return bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 100) },
			"unsized-data": func() io.Reader { return io.MultiReader(bytes.NewReader(data)) },
		}
		for rn, mk := range readers {
			var got collector
			info, err := Load(mk(), &got)
			if err != nil {
				t.Fatalf("%s %s: %v", name, rn, err)
			}
			if !info.ChecksumVerified || info.BytesRead != int64(len(data)) {
				t.Errorf("%s %s: info %+v", name, rn, info)
			}
			diffCanon(t, name+" "+rn, got.canon(), want.canon())
		}
	}
}

// TestLoadConsumesExactly: from a *bufio.Reader, Load takes the RDB bytes
// and leaves what follows (a replication stream, say) unread.
func TestLoadConsumesExactly(t *testing.T) {
	data, err := os.ReadFile(testdata("all.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{16, 4096, 1 << 20} {
		in := append(bytes.Clone(data), "*1\r\n$4\r\nPING\r\n"...)
		br := bufio.NewReaderSize(bytes.NewReader(in), size)
		if _, err := Load(br, &collector{}); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != "*1\r\n$4\r\nPING\r\n" {
			t.Errorf("size %d: left %q", size, rest)
		}
	}
}

// TestLoadTruncatedStream: a stream cut anywhere fails with a corrupt
// input error (never a panic or success), whatever the read sizes.
func TestLoadTruncatedStream(t *testing.T) {
	data, err := os.ReadFile(testdata("all.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(data); cut += 1 + cut/50 {
		r := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(data[:cut])), 16)
		var ce *CorruptError
		if _, err := Load(r, &collector{}); err == nil || !asCorrupt(err, &ce) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

func asCorrupt(err error, ce **CorruptError) bool {
	c, ok := err.(*CorruptError)
	*ce = c
	return ok
}
