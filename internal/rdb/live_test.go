package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randBytes returns a random string biased towards the interesting cases:
// integers of every width, short/long, compressible and binary strings.
func randBytes(rng *rand.Rand, maxLen int) []byte {
	switch rng.IntN(10) {
	case 0:
		return fmt.Appendf(nil, "%d", rng.Int64N(256)-128)
	case 1:
		return fmt.Appendf(nil, "%d", rng.Int64()>>uint(rng.IntN(63)))
	case 2:
		return fmt.Appendf(nil, "%d", -rng.Int64()>>uint(rng.IntN(63)))
	case 3:
		return bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, rng.IntN(maxLen+1))
	case 4:
		b := make([]byte, rng.IntN(maxLen+1))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case 5:
		return []byte(fmt.Sprintf("0%d", rng.IntN(100))) // not canonical
	}
	b := make([]byte, rng.IntN(min(maxLen, 40)+1))
	for i := range b {
		b[i] = "abcdefghij0123456789:-"[rng.IntN(22)]
	}
	return b
}

func uniq(rng *rand.Rand, n, maxLen int, gen func() []byte) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for tries := 0; len(out) < n && tries < n*20; tries++ {
		b := gen()
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	return out
}

var scorePool = []float64{0, 1, -1, 0.5, 2.5, 1e20, -1e-7, math.Inf(1), math.Inf(-1), 3.141592653589793, 123456789, 4503599627370496, 1.0 / 3}

// randValue generates a value whose size class straddles the thresholds.
func randValue(rng *rand.Rand) Value {
	n := []int{1, 3, 20, 128, 129, 200, 513, 600}[rng.IntN(8)]
	maxLen := []int{10, 64, 65, 300}[rng.IntN(4)]
	switch rng.IntN(5) {
	case 0:
		return Value{Type: TypeString, Str: randBytes(rng, []int{5, 20, 21, 100, 3000}[rng.IntN(5)])}
	case 1:
		l := make([][]byte, n*3)
		for i := range l {
			l[i] = randBytes(rng, maxLen*3)
		}
		return Value{Type: TypeList, List: l}
	case 2:
		if rng.IntN(2) == 0 {
			return Value{Type: TypeSet, Set: uniq(rng, n, 0, func() []byte { return fmt.Appendf(nil, "%d", rng.Int64()>>uint(rng.IntN(63))-1<<(rng.IntN(20))) })}
		}
		return Value{Type: TypeSet, Set: uniq(rng, n, 0, func() []byte { return randBytes(rng, maxLen) })}
	case 3:
		ms := uniq(rng, n, 0, func() []byte { return randBytes(rng, maxLen) })
		z := make([]ZMember, len(ms))
		for i, m := range ms {
			z[i] = ZMember{m, scorePool[rng.IntN(len(scorePool))] + float64(rng.IntN(3))}
			if rng.IntN(3) == 0 {
				z[i].Score = rng.NormFloat64() * 1e6
			}
		}
		return Value{Type: TypeZSet, ZSet: z}
	}
	fs := uniq(rng, n, 0, func() []byte { return randBytes(rng, maxLen) })
	h := make([]HashField, len(fs))
	for i, f := range fs {
		h[i] = HashField{f, randBytes(rng, maxLen)}
	}
	return Value{Type: TypeHash, Hash: h}
}

func randEntries(rng *rand.Rand, n int) []Entry {
	var es []Entry
	keys := map[string]bool{}
	for len(es) < n {
		k := randBytes(rng, 30)
		db := []int{0, 0, 0, 1, 9}[rng.IntN(5)]
		if keys[fmt.Sprint(db, string(k))] {
			continue
		}
		keys[fmt.Sprint(db, string(k))] = true
		e := Entry{DB: db, Key: k, Value: randValue(rng), LRUIdle: -1, LFUFreq: -1}
		if rng.IntN(3) == 0 {
			e.ExpireMs = farFuture + int64(rng.IntN(1e6))
		}
		es = append(es, e)
	}
	// group by DB, as a server does
	var out []Entry
	for _, db := range []int{0, 1, 9} {
		for _, e := range es {
			if e.DB == db {
				out = append(out, e)
			}
		}
	}
	return out
}

func entriesCanon(es []Entry) []string {
	c := &collector{entries: es}
	return c.canon()
}

func writeRDB(t testing.TB, es []Entry, opt Options) []byte {
	var buf bytes.Buffer
	enc := NewEncoder(&buf, opt)
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	must(enc.Header())
	must(enc.Aux("redis-ver", "7.0.15"))
	must(enc.Aux("redis-bits", "64"))
	must(enc.Function([]byte(goldenFunction)))
	for i := range es {
		if i == 0 || es[i].DB != es[i-1].DB {
			must(enc.SelectDB(es[i].DB))
			must(enc.ResizeDB(uint64(len(es)), 0))
		}
		must(enc.Entry(&es[i]))
	}
	must(enc.Finish())
	return buf.Bytes()
}

// TestLiveEncoderLoad writes files with the Encoder and proves redis-server
// 7.0 loads them with identical contents and redis-check-rdb accepts them.
func TestLiveEncoderLoad(t *testing.T) {
	requireRedis(t)
	for _, opt := range []Options{{Compress: true, Checksum: true}, {Compress: false, Checksum: false}} {
		t.Run(fmt.Sprintf("compress=%v,checksum=%v", opt.Compress, opt.Checksum), func(t *testing.T) {
			es := randEntries(rand.New(rand.NewPCG(7, uint64(len(fmt.Sprint(opt))))), 150)
			// plus the golden dataset's values, and LRU/LFU metadata
			for i, k := range loadGoldenJSON(t).Keys {
				e := Entry{DB: k.DB + 2, Key: k.Key, Value: *k.value(), ExpireMs: k.ExpireMs, LRUIdle: -1, LFUFreq: -1}
				if i%5 == 0 {
					e.LRUIdle = int64(i)
				}
				if i%7 == 0 {
					e.LFUFreq = i
				}
				es = append(es, e)
			}
			data := writeRDB(t, es, opt)
			dir := t.TempDir()
			path := filepath.Join(dir, "dump.rdb")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			checkRDB(t, path)
			// our decoder agrees
			var col collector
			if _, err := Load(bytes.NewReader(data), &col); err != nil {
				t.Fatal(err)
			}
			want := entriesCanon(es)
			diffCanon(t, "self-decode", col.canon(), want)
			s := startRedis(t, dir)
			c := s.conn(t)
			got := readAll(t, c)
			diffCanon(t, "redis", canonKeys(got), want)
			lib := flatten(c.must(t, "FUNCTION", "LIST"))
			if !strings.Contains(lib, "mylib") {
				t.Errorf("function library not loaded: %s", lib)
			}
		})
	}
}

// TestLiveDumpRestore: our payloads RESTORE into redis; redis DUMPs decode
// with RestoreValue; with compression off, deterministic encodings must be
// byte-identical.
func TestLiveDumpRestore(t *testing.T) {
	requireRedis(t)
	s := startRedis(t, t.TempDir())
	c := s.conn(t)
	rng := rand.New(rand.NewPCG(3, 4))
	exact := 0
	for i := 0; i < 200; i++ {
		v := randValue(rng)
		compress := i%2 == 0
		if compress {
			c.must(t, "CONFIG", "SET", "rdbcompression", "yes")
		} else {
			c.must(t, "CONFIG", "SET", "rdbcompression", "no")
		}
		key := fmt.Sprintf("k%d", i)
		p := DumpValue(&v, Options{Compress: compress})
		if r, err := c.do("RESTORE", key, "0", p); err != nil || fmt.Sprint(r) != "[79 75]" {
			t.Fatalf("RESTORE %v of %s: %v %v", key, typeName(v.Type), r, err)
		}
		got := readKey(t, c, 0, []byte(key))
		if g, w := got.canon(), canon(0, []byte(key), &v, 0); g != w {
			t.Fatalf("%s: redis has\n%.500s\nwant\n%.500s", key, g, w)
		}
		d := c.must(t, "DUMP", key).([]byte)
		rv, err := RestoreValue(d)
		if err != nil {
			t.Fatalf("RestoreValue(redis DUMP %s): %v", key, err)
		}
		if g, w := canon(0, nil, rv, 0), canon(0, nil, &v, 0); g != w {
			t.Fatalf("%s: decoded redis DUMP\n%.500s\nwant\n%.500s", key, g, w)
		}
		if !compress && got.Encoding != "hashtable" {
			if !bytes.Equal(d, p) {
				t.Fatalf("%s (%s): payload differs\n ours  %x\n redis %x", key, got.Encoding, trunc(p), trunc(d))
			}
			exact++
		}
	}
	if exact < 40 {
		t.Fatalf("only %d byte-exact checks", exact)
	}
	// a corrupted payload is refused by both
	p := DumpValue(&Value{Type: TypeString, Str: []byte("x")}, Options{})
	p[len(p)-1] ^= 0xff
	r, _ := c.do("RESTORE", "bad", "0", p)
	if fmt.Sprint(r) != "ERR DUMP payload version or checksum are wrong" {
		t.Fatalf("redis said %v", r)
	}
	if _, err := RestoreValue(p); err == nil || "ERR "+err.Error() != fmt.Sprint(r) {
		t.Fatalf("RestoreValue said %v", err)
	}
}

// oldFormatFile builds an RDB 9 file using encodings only older Redis
// versions write: ziplist/quicklist v1 lists, ziplist zsets and hashes,
// zipmap hashes, ASCII-score zsets, EXPIRETIME in seconds.
func oldFormatFile() ([]byte, []Entry) {
	var b []byte
	b = append(b, "REDIS0009"...)
	b = append(b, opAux)
	b = appendString(b, []byte("redis-ver"), false)
	b = appendString(b, []byte("5.0.0"), false)
	b = append(b, opSelectDB, 0, opResizeDB, 10, 1)
	var want []Entry
	add := func(t Type, key string, v Value, body func([]byte) []byte) {
		b = append(b, byte(t))
		b = appendString(b, []byte(key), false)
		b = body(b)
		want = append(want, Entry{Key: []byte(key), Value: v, LRUIdle: -1, LFUFreq: -1})
	}
	strs := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	// string with a seconds expiry
	b = append(b, opExpireTime)
	b = binary.LittleEndian.AppendUint32(b, 2147483000)
	add(TypeString, "old:str", Value{Type: TypeString, Str: []byte("v")}, func(b []byte) []byte { return appendString(b, []byte("v"), false) })
	want[len(want)-1].ExpireMs = 2147483000 * 1000
	l := strs("a", "1", "-1", "12", "13", "300", "-70000", "8000000", "3000000000", "9223372036854775807", strings.Repeat("z", 100), strings.Repeat("y", 20000))
	add(TypeListZiplist, "old:ziplist", Value{Type: TypeList, List: l}, func(b []byte) []byte { return appendString(b, ZiplistEncode(l), true) })
	add(TypeListQuicklist, "old:quicklist", Value{Type: TypeList, List: append(l[:6:6], l[6:]...)}, func(b []byte) []byte {
		b = appendLen(b, 2)
		b = appendString(b, ZiplistEncode(l[:6]), false)
		return appendString(b, ZiplistEncode(l[6:]), true)
	})
	z := []ZMember{{[]byte("a"), 1}, {[]byte("b"), 2.5}, {[]byte("c"), math.Inf(1)}, {[]byte("7"), -3}}
	add(TypeZSetZiplist, "old:zsetzl", Value{Type: TypeZSet, ZSet: z}, func(b []byte) []byte {
		return appendString(b, ZiplistEncode(strs("7", "-3", "a", "1", "b", "2.5", "c", "inf")), false)
	})
	add(TypeZSet, "old:zset", Value{Type: TypeZSet, ZSet: z}, func(b []byte) []byte {
		b = appendLen(b, uint64(len(z)))
		for _, m := range z {
			b = appendString(b, m.Member, false)
			s := formatScore(nil, m.Score)
			if math.IsInf(m.Score, 1) {
				b = append(b, 254)
			} else {
				b = append(b, byte(len(s)))
				b = append(b, s...)
			}
		}
		return b
	})
	h := []HashField{{[]byte("f"), []byte("v")}, {[]byte("n"), []byte("42")}, {[]byte("long"), bytes.Repeat([]byte("q"), 300)}}
	add(TypeHashZiplist, "old:hashzl", Value{Type: TypeHash, Hash: h}, func(b []byte) []byte {
		return appendString(b, ZiplistEncode(strs("f", "v", "n", "42", "long", strings.Repeat("q", 300))), false)
	})
	add(TypeHashZipmap, "old:zipmap", Value{Type: TypeHash, Hash: h}, func(b []byte) []byte { return appendString(b, ZipmapEncode(h), false) })
	add(TypeList, "old:list", Value{Type: TypeList, List: l}, func(b []byte) []byte {
		b = appendLen(b, uint64(len(l)))
		for _, e := range l {
			b = appendString(b, e, false)
		}
		return b
	})
	b = append(b, opEOF)
	b = binary.LittleEndian.AppendUint64(b, CRC64(b))
	return b, want
}

func TestOldFormats(t *testing.T) {
	data, want := oldFormatFile()
	var col collector
	info, err := Load(bytes.NewReader(data), &col)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 9 || !info.ChecksumVerified {
		t.Fatalf("info %+v", info)
	}
	diffCanon(t, "old formats", col.canon(), entriesCanon(want))
}

// TestLiveOldFormats proves the hand-built legacy encodings are what Redis
// understands (redis 7.0 still loads them).
func TestLiveOldFormats(t *testing.T) {
	requireRedis(t)
	data, want := oldFormatFile()
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")
	os.WriteFile(path, data, 0o644)
	checkRDB(t, path)
	s := startRedis(t, dir)
	diffCanon(t, "redis old formats", canonKeys(readAll(t, s.conn(t))), entriesCanon(want))
}

func flatten(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x) + " "
	case []any:
		s := ""
		for _, e := range x {
			s += flatten(e)
		}
		return s
	}
	return fmt.Sprint(v) + " "
}
