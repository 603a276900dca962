package rdb

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addFileSeeds(f *testing.F) {
	// Small seeds keep the fuzzer's input minimisation fast; the big
	// golden files are exercised by TestCorruptInputs instead.
	files, _ := filepath.Glob(testdata("*.rdb"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 4096 {
			f.Add(data)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 6; i++ {
		var es []Entry
		for j := 0; j < 4; j++ {
			v := randValue(rng)
			if len(DumpValue(&v, Options{})) < 400 {
				es = append(es, Entry{Key: []byte{byte('a' + j)}, Value: v, LRUIdle: int64(j) - 1, LFUFreq: j - 1, ExpireMs: int64(j)})
			}
		}
		f.Add(writeRDB(f, es, Options{Compress: i%2 == 0, Checksum: i%3 == 0}))
	}
	f.Add([]byte("REDIS0010\xff\x00\x00\x00\x00\x00\x00\x00\x00"))
}

// FuzzLoad: arbitrary input never panics; success implies the input was a
// complete file whose contents re-encode and decode to the same keys.
func FuzzLoad(f *testing.F) {
	addFileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var c collector
		info, err := Load(bytes.NewReader(data), &c)
		// The raw hash-listpack path accepts exactly what the decoded
		// path accepts, with the same contents.
		var rc rawCollector
		_, rerr := Load(bytes.NewReader(data), &rc)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("decoded load: %v; raw listpack load: %v", err, rerr)
		}
		if err != nil {
			return
		}
		if rerr != nil || rc.err != nil {
			t.Fatalf("raw listpack load: %v %v", rerr, rc.err)
		}
		if got, want := strings.Join(rc.canon(), "\n"), strings.Join(c.canon(), "\n"); got != want {
			t.Fatalf("raw listpack load differs:\n%s\nwant\n%s", got, want)
		}
		if info.BytesRead > int64(len(data)) {
			t.Fatalf("read %d of %d bytes", info.BytesRead, len(data))
		}
		for i := range c.entries {
			e := &c.entries[i]
			p := DumpValue(&e.Value, Options{Compress: true})
			v, err := RestoreValue(p)
			if err != nil {
				t.Fatalf("re-encoding decoded value: %v", err)
			}
			if canon(0, nil, v, 0) != canon(0, nil, &e.Value, 0) {
				t.Fatalf("re-encode mismatch for %q", e.Key)
			}
		}
	})
}

// FuzzRestore: arbitrary DUMP payloads never panic; the checksum is
// recomputed so the fuzzer reaches the value decoder.
func FuzzRestore(f *testing.F) {
	for _, d := range loadDumps(f) {
		if p, err := hex.DecodeString(d.Payload); err == nil && len(p) < 1000 {
			f.Add(p[:len(p)-10])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := append(bytes.Clone(body), Version, 0)
		h := NewCRC64()
		h.Write(p)
		p = h.Sum(p)
		v, err := RestoreValue(p)
		if err != nil {
			return
		}
		again, err := RestoreValue(DumpValue(v, Options{}))
		if err != nil || canon(0, nil, again, 0) != canon(0, nil, v, 0) {
			t.Fatalf("restored value does not round trip: %v", err)
		}
	})
}

// FuzzPacked: the packed decoders never panic.
func FuzzPacked(f *testing.F) {
	f.Add(ListpackEncode([][]byte{[]byte("a"), []byte("123"), bytes.Repeat([]byte("x"), 200)}))
	f.Add(ZiplistEncode([][]byte{[]byte("a"), []byte("123"), bytes.Repeat([]byte("x"), 300)}))
	f.Add(IntsetEncode([]int64{1, 2, 1 << 40}))
	f.Add(ZipmapEncode([]HashField{{[]byte("f"), []byte("v")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ListpackDecode(b)
		ZiplistDecode(b)
		IntsetDecode(b)
		ZipmapDecode(b)
		if len(b) > 2 {
			LZFDecompress(b[2:], int(b[0])<<4|int(b[1]))
		}
	})
}

func benchEntries(n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Key: []byte("key:" + itoa(i)), Value: Value{Type: TypeString, Str: []byte("value-" + itoa(i*7))}, LRUIdle: -1, LFUFreq: -1}
	}
	return es
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

type discardHandler struct{}

func (discardHandler) Aux(string, string) error           { return nil }
func (discardHandler) ResizeDB(int, uint64, uint64) error { return nil }
func (discardHandler) Entry(*Entry) error                 { return nil }

func BenchmarkEncode(b *testing.B) {
	es := benchEntries(100000)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		enc := NewEncoder(&buf, Options{Compress: true, Checksum: true})
		enc.Header()
		enc.SelectDB(0)
		for i := range es {
			enc.Entry(&es[i])
		}
		if err := enc.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

func BenchmarkDecode(b *testing.B) {
	es := benchEntries(100000)
	var buf bytes.Buffer
	enc := NewEncoder(&buf, Options{Compress: true, Checksum: true})
	enc.Header()
	for i := range es {
		enc.Entry(&es[i])
	}
	enc.Finish()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(bytes.NewReader(data), discardHandler{}); err != nil {
			b.Fatal(err)
		}
	}
}
