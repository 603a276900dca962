package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestCRC64(t *testing.T) {
	if got := CRC64([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %x", got)
	}
	data := []byte(strings.Repeat("This is a test of the CRC64 implementation. ", 50))
	whole := CRC64(data)
	for _, split := range []int{0, 1, 7, 8, 9, 100, len(data)} {
		if got := CRC64Update(CRC64(data[:split]), data[split:]); got != whole {
			t.Fatalf("streaming split %d: %x != %x", split, got, whole)
		}
	}
	// slicing-by-8 agrees with the bytewise loop
	var c uint64
	for _, b := range data {
		c = crc64Tab[0][byte(c)^b] ^ c>>8
	}
	if c != whole {
		t.Fatalf("bytewise %x != %x", c, whole)
	}
	h := NewCRC64()
	h.Write([]byte("1234"))
	h.Write([]byte("56789"))
	if h.Sum64() != 0xe9c6d914c4b8d9ca || fmt.Sprintf("%x", h.Sum(nil)) != "cad9b8c414d9c6e9" {
		t.Fatalf("hash: %x %x", h.Sum64(), h.Sum(nil))
	}
}

func TestLZF(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := [][]byte{[]byte("a"), []byte("abcabcabcabcabcabcabcabc"), bytes.Repeat([]byte{0}, 100000)}
	for i := 0; i < 300; i++ {
		n := rng.IntN(20000)
		b := make([]byte, n)
		alpha := 1 + rng.IntN(255)
		for j := range b {
			if j > 10 && rng.IntN(4) == 0 {
				b[j] = b[j-1-rng.IntN(min(j, 9000))]
			} else {
				b[j] = byte(rng.IntN(alpha))
			}
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		c := LZFCompress(in, 0)
		out, err := LZFDecompress(c, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip of %d bytes failed: %v", len(in), err)
		}
		if lim := len(in) - 4; lim > 0 {
			if c := LZFCompress(in, lim); c != nil && len(c) > lim {
				t.Fatalf("limit exceeded")
			}
		}
		if len(c) > 0 {
			if _, err := LZFDecompress(c, len(in)+1); err == nil {
				t.Fatalf("wrong length accepted")
			}
			if _, err := LZFDecompress(c[:len(c)-1], len(in)); err == nil {
				t.Fatalf("truncated accepted")
			}
		}
	}
	if c := LZFCompress(bytes.Repeat([]byte("x"), 1000), 0); len(c) > 20 {
		t.Fatalf("poor compression: %d", len(c))
	}
	// a back reference before the start of output is invalid
	if _, err := LZFDecompress([]byte{0x20, 0x05}, 3); err == nil {
		t.Fatal("bad reference accepted")
	}
}

func TestCanonicalInt(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "9223372036854775807", "-9223372036854775808", "123"} {
		if _, ok := ParseCanonicalInt([]byte(s)); !ok {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range []string{"", "-", "-0", "01", "+1", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.0", "1e3", "99999999999999999999"} {
		if _, ok := ParseCanonicalInt([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestStringEncoding(t *testing.T) {
	cases := []struct {
		in   string
		comp bool
		want string
	}{
		{"0", false, "c000"},
		{"-128", false, "c080"},
		{"127", false, "c07f"},
		{"128", false, "c18000"},
		{"-32769", false, "c2ff7fffff"},
		{"2147483648", false, "0a32313437343833363438"},
		{"007", false, "03303037"},
		{"", false, "00"},
		{strings.Repeat("a", 64), false, "4040" + strings.Repeat("61", 64)},
		{strings.Repeat("ab", 10), true, "14" + strings.Repeat("6162", 10)}, // 20 bytes: never compressed
	}
	for _, c := range cases {
		if got := fmt.Sprintf("%x", appendString(nil, []byte(c.in), c.comp)); got != c.want {
			t.Errorf("%q: got %s want %s", c.in, got, c.want)
		}
	}
	if b := appendString(nil, []byte(strings.Repeat("ab", 30)), true); b[0] != 0xC3 {
		t.Errorf("compressible string not compressed: %x", b)
	}
	for _, n := range []uint64{0, 63, 64, 16383, 16384, 1<<32 - 1, 1 << 32} {
		b := appendLen(nil, n)
		r := newReader(bytes.NewReader(b), -1)
		got, enc, err := r.readLen("x")
		if err != nil || enc || got != n || r.pos() != int64(len(b)) {
			t.Errorf("len %d: %x -> %d %v", n, b, got, err)
		}
	}
}

func TestPackedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for i := 0; i < 300; i++ {
		var elems [][]byte
		for j := rng.IntN(60); j > 0; j-- {
			elems = append(elems, randBytes(rng, []int{10, 70, 5000, 20000}[rng.IntN(4)]))
		}
		for name, pair := range map[string][2]func([][]byte) ([][]byte, error){
			"listpack": {func(e [][]byte) ([][]byte, error) { return ListpackDecode(ListpackEncode(e)) }},
			"ziplist":  {func(e [][]byte) ([][]byte, error) { return ZiplistDecode(ZiplistEncode(e)) }},
		} {
			got, err := pair[0](elems)
			if err != nil || len(got) != len(elems) {
				t.Fatalf("%s: %v (%d vs %d)", name, err, len(got), len(elems))
			}
			for k := range got {
				if !bytes.Equal(got[k], elems[k]) {
					t.Fatalf("%s: element %d: %q != %q", name, k, got[k], elems[k])
				}
			}
		}
		var ints []int64
		for j := rng.IntN(50); j > 0; j-- {
			ints = append(ints, rng.Int64()>>uint(rng.IntN(64)))
		}
		dec, err := IntsetDecode(IntsetEncode(ints))
		if err != nil || len(dec) > len(ints) {
			t.Fatalf("intset: %v", err)
		}
		var h []HashField
		for j := rng.IntN(20); j > 0; j-- {
			h = append(h, HashField{randBytes(rng, 300), randBytes(rng, 300)})
		}
		hd, err := ZipmapDecode(ZipmapEncode(h))
		if err != nil || len(hd) != len(h) {
			t.Fatalf("zipmap: %v", err)
		}
	}
	// known listpack bytes: ["a", 1, 5000, -1]
	if got := fmt.Sprintf("%x", ListpackEncode([][]byte{[]byte("a"), []byte("1"), []byte("5000"), []byte("-1")})); got != "1300000004008161020101f1881303dfff02ff" {
		t.Errorf("listpack bytes %s", got)
	}
	if got := fmt.Sprintf("%x", IntsetEncode([]int64{3, 1, 2, 2})); got != "0200000003000000010002000300" {
		t.Errorf("intset bytes %s", got)
	}
}

func TestFormatScore(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 1: "1", -3: "-3", 2.5: "2.5", 0.1: "0.10000000000000001",
		1e20: "1e+20", math.Inf(1): "inf", math.Inf(-1): "-inf", 4503599627370495: "4503599627370495", 4503599627370496: "4503599627370496"} {
		if got := string(formatScore(nil, f)); got != want {
			t.Errorf("%v: %q want %q", f, got, want)
		}
	}
}

// TestRoundTrip: random datasets survive Encoder -> Load and DumpValue ->
// RestoreValue unchanged, with every option combination.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for _, opt := range []Options{{}, {Compress: true}, {Checksum: true}, {Compress: true, Checksum: true},
		{Compress: true, Checksum: true, Thresholds: &Thresholds{ListMaxListpackSize: 3, HashMaxListpackEntries: 2, HashMaxListpackValue: 5, SetMaxIntsetEntries: 3, SetMaxListpackEntries: 10, SetMaxListpackValue: 10, ZSetMaxListpackEntries: 4, ZSetMaxListpackValue: 8}}} {
		es := randEntries(rng, 60)
		for i := range es {
			if i%4 == 0 {
				es[i].LRUIdle = int64(i * 1000)
			}
			if i%5 == 0 {
				es[i].LFUFreq = i % 256
			}
		}
		data := writeRDB(t, es, opt)
		var col collector
		info, err := Load(bytes.NewReader(data), &col)
		if err != nil {
			t.Fatal(err)
		}
		if info.ChecksumVerified != opt.Checksum || info.BytesRead != int64(len(data)) {
			t.Fatalf("info %+v", info)
		}
		diffCanon(t, "roundtrip", col.canon(), entriesCanon(es))
		for i := range es {
			if col.entries[i].LRUIdle != es[i].LRUIdle || col.entries[i].LFUFreq != es[i].LFUFreq {
				t.Fatalf("metadata of %q: %d/%d", es[i].Key, col.entries[i].LRUIdle, col.entries[i].LFUFreq)
			}
			p := DumpValue(&es[i].Value, opt)
			v, err := RestoreValue(p)
			if err != nil {
				t.Fatal(err)
			}
			if canon(0, nil, v, 0) != canon(0, nil, &es[i].Value, 0) {
				t.Fatalf("dump round trip of %q", es[i].Key)
			}
		}
	}
}

func TestEncoderErrors(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf, Options{})
	e.Header()
	if err := e.Entry(&Entry{Key: []byte("k"), Value: Value{Type: 42}, LRUIdle: -1, LFUFreq: -1}); err == nil {
		t.Fatal("bad type accepted")
	}
	if err := e.Entry(&Entry{Key: []byte("k"), Value: Value{Type: TypeZSet, ZSet: []ZMember{{[]byte("m"), math.NaN()}}}, LRUIdle: -1, LFUFreq: -1}); err == nil {
		t.Fatal("NaN accepted")
	}
	if DumpValue(&Value{Type: 99}, Options{}) != nil {
		t.Fatal("DumpValue of bad type")
	}
	// write errors are sticky and reported
	e = NewEncoder(failWriter{}, Options{})
	e.Header()
	if err := e.Finish(); err == nil {
		t.Fatal("write error lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestCorruptInputs: truncations and single-byte corruptions of a real
// file never panic and never succeed.
func TestCorruptInputs(t *testing.T) {
	data, err := os.ReadFile(testdata("all.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	for n := 0; n < len(data); n += 1 + n/50 {
		_, err := Load(bytes.NewReader(data[:n]), &collector{})
		if !errors.As(err, &ce) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
		// also through a plain io.Reader (unknown size)
		if _, err := Load(io.MultiReader(bytes.NewReader(data[:n])), &collector{}); !errors.As(err, &ce) {
			t.Fatalf("truncated stream at %d: %v", n, err)
		}
	}
	rng := rand.New(rand.NewPCG(12, 13))
	for i := 0; i < 1500; i++ {
		d := bytes.Clone(data)
		pos := rng.IntN(len(d))
		d[pos] ^= byte(1 + rng.IntN(255))
		if _, err := Load(bytes.NewReader(d), &collector{}); err == nil {
			t.Fatalf("corruption at %d accepted", pos)
		}
	}
	// specific messages
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if _, err := Load(bytes.NewReader(bad), &collector{}); err == nil || !strings.Contains(err.Error(), "bad checksum") {
		t.Fatalf("checksum: %v", err)
	}
	for in, want := range map[string]string{
		"":                   "unexpected EOF reading header",
		"RADIS0010":          "bad magic",
		"REDIS0099\xff":      "unsupported RDB version",
		"REDIS0010\x2a\x01k": "unknown value type 42",
		"REDIS0010\x00":      "unexpected EOF reading key length",
		"REDIS0010\x00\x01k\x81\xff\xff\xff\xff\xff\xff\xff\xff": "exceeds remaining input",
		"REDIS0010\xf7":                      "unsupported opcode MODULE_AUX",
		"REDIS0010\x07\x01k":                 "unsupported type 7 (module)",
		"REDIS0010\x00\x01k\xc3\x01\x7f\x00": "LZF",
	} {
		_, err := Load(strings.NewReader(in), &collector{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	// a huge declared length on an unsized stream fails without allocating it
	huge := "REDIS0010\x00\x01k\x81\x00\x00\x10\x00\x00\x00\x00\x00abc"
	if _, err := Load(io.MultiReader(strings.NewReader(huge)), &collector{}); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("huge: %v", err)
	}
}

type stopHandler struct{ collector }

var errStop = errors.New("stop")

func (stopHandler) Entry(*Entry) error { return errStop }

func TestHandlerErrorPropagates(t *testing.T) {
	data, _ := os.ReadFile(testdata("all.rdb"))
	if _, err := Load(bytes.NewReader(data), &stopHandler{}); err != errStop {
		t.Fatalf("got %v", err)
	}
}

func TestRestoreErrors(t *testing.T) {
	good := DumpValue(&Value{Type: TypeList, List: [][]byte{[]byte("a")}}, Options{})
	if _, err := RestoreValue(good[:5]); !errors.Is(err, ErrDumpPayload) {
		t.Fatal(err)
	}
	newer := bytes.Clone(good)
	newer[len(newer)-10] = 99
	if _, err := RestoreValue(newer); !errors.Is(err, ErrDumpPayload) {
		t.Fatal(err)
	}
	// valid checksum over garbage -> Bad data format, with detail
	body := []byte{0x12, 0x01, 0x02, 0x03, 'x', 'y', 'z'}
	body = append(body, Version, 0)
	body = append(body, NewCRC64().Sum(nil)...)
	p := append(body[:len(body)-8:len(body)-8], func() []byte { h := NewCRC64(); h.Write(body[:len(body)-8]); return h.Sum(nil) }()...)
	_, err := RestoreValue(p)
	var ce *CorruptError
	if !errors.Is(err, ErrBadDataFormat) || err.Error() != "Bad data format" || !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
}

// TestRawHashListpack: hashes of type 16 loaded raw (ListpackHandler) are
// validated like decoded ones: the same inputs are accepted and rejected
// (duplicate fields, including an integer-encoded and a string-encoded
// "5", odd element counts, bad back lengths, wrong counts), and the blob
// handed over decodes to the same fields.
func TestRawHashListpack(t *testing.T) {
	strElem := func(s string) []byte { // string encoding even for digits
		b := []byte{0x80 | byte(len(s))}
		b = append(b, s...)
		return append(b, byte(1+len(s)))
	}
	build := func(count int, entries ...[]byte) []byte {
		b := make([]byte, 6)
		for _, e := range entries {
			b = append(b, e...)
		}
		b = append(b, 0xFF)
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		binary.LittleEndian.PutUint16(b[4:], uint16(count))
		return b
	}
	good := ListpackEncode([][]byte{[]byte("a"), []byte("1"), []byte("5"), []byte("x"), []byte("long-field-name-here"), []byte("-70000")})
	many := [][]byte{}
	for i := 0; i < 40; i++ {
		many = append(many, []byte(fmt.Sprint("f", i)), []byte(fmt.Sprint(i*1000)))
	}
	manyDup := append(append([][]byte{}, many...), []byte("f7"), []byte("v"))
	badBacklen := slices.Clone(good)
	badBacklen[len(badBacklen)-2]++
	cases := []struct {
		name string
		lp   []byte
		ok   bool
	}{
		{"good", good, true},
		{"many", ListpackEncode(many), true},
		{"dup in many", ListpackEncode(manyDup), false},
		{"int and string 5", build(4, ListpackEncode([][]byte{[]byte("5")})[6:8], strElem("a"), strElem("5"), strElem("b")), false},
		{"odd", ListpackEncode([][]byte{[]byte("a"), []byte("1"), []byte("b")}), false},
		{"bad backlen", badBacklen, false},
		{"wrong count", build(3, strElem("a"), strElem("b")), false},
		{"unknown count", build(65535, strElem("a"), strElem("b")), true},
		{"empty", build(0), true},
	}
	for _, c := range cases {
		var b bytes.Buffer
		enc := NewEncoder(&b, Options{Checksum: true})
		enc.Header()
		enc.SelectDB(0)
		enc.buf = append(enc.buf, byte(TypeHashListpack))
		enc.buf = appendString(enc.buf, []byte("k"), false)
		enc.buf = appendString(enc.buf, c.lp, false)
		if err := enc.Finish(); err != nil {
			t.Fatal(err)
		}
		var dc collector
		_, derr := Load(bytes.NewReader(b.Bytes()), &dc)
		var rc rawCollector
		_, rerr := Load(bytes.NewReader(b.Bytes()), &rc)
		if (derr == nil) != c.ok || (rerr == nil) != c.ok {
			t.Errorf("%s: decoded err %v, raw err %v, want ok=%v", c.name, derr, rerr, c.ok)
			continue
		}
		if c.ok && strings.Join(rc.canon(), "\n") != strings.Join(dc.canon(), "\n") {
			t.Errorf("%s: raw %q != decoded %q", c.name, rc.canon(), dc.canon())
		}
	}
}

// TestHashListpackEntry: a hash written from its listpack is byte for byte
// the file Entry writes for the same fields, and falls back when over
// hash-max-listpack-entries.
func TestHashListpackEntry(t *testing.T) {
	fields := [][]byte{[]byte("name"), []byte("vigil"), []byte("n"), []byte("42"), []byte("neg"), []byte("-3"), []byte("big"), []byte("12345678901234")}
	lp := ListpackEncode(fields)
	v := Value{Type: TypeHash}
	for i := 0; i < len(fields); i += 2 {
		v.Hash = append(v.Hash, HashField{fields[i], fields[i+1]})
	}
	for _, compress := range []bool{false, true} {
		var a, b bytes.Buffer
		ea := NewEncoder(&a, Options{Compress: compress, Checksum: true})
		eb := NewEncoder(&b, Options{Compress: compress, Checksum: true})
		ea.Header()
		eb.Header()
		if ok, err := ea.HashListpackEntry(0, []byte("h"), lp, 4, 1234); !ok || err != nil {
			t.Fatal(ok, err)
		}
		eb.Entry(&Entry{DB: 0, Key: []byte("h"), Value: v, ExpireMs: 1234, LRUIdle: -1, LFUFreq: -1})
		ea.Finish()
		eb.Finish()
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("compress=%v: HashListpackEntry wrote %x, Entry %x", compress, a.Bytes(), b.Bytes())
		}
	}
	th := DefaultThresholds()
	th.HashMaxListpackEntries = 3
	var a bytes.Buffer
	ea := NewEncoder(&a, Options{Thresholds: &th})
	if ok, _ := ea.HashListpackEntry(0, []byte("h"), lp, 4, 0); ok {
		t.Fatal("4 fields written as a listpack with hash-max-listpack-entries 3")
	}
}
