package rdb

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var regen = flag.Bool("regen", false, "regenerate testdata from a live redis-server")

const farFuture = int64(4102444800000) // 2100-01-01

func detRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// populate loads the golden dataset into a live server with real commands.
func populate(t testing.TB, c *respConn) {
	rng := detRand()
	c.must(t, "SELECT", 0)
	// strings
	c.must(t, "SET", "str:small", "hello")
	c.must(t, "SET", "str:int8", "-7")
	c.must(t, "SET", "str:int16", "12345")
	c.must(t, "SET", "str:int32", "-2000000000")
	c.must(t, "SET", "str:int64", "9223372036854775807")
	c.must(t, "SET", "str:bigint", "12345678901")
	c.must(t, "SET", "str:leadingzero", "007")
	c.must(t, "SET", "str:float", "3.14")
	c.must(t, "SET", "str:empty", "")
	c.must(t, "SET", "str:binary", "\x00\xff\r\n\xc3")
	c.must(t, "SET", "str:lzf", strings.Repeat("abcdefgh", 100))
	c.must(t, "SET", "str:lzf21", "aaaaaaaaaaaaaaaaaaaaa")
	rnd := make([]byte, 5000)
	for i := range rnd {
		rnd[i] = byte(rng.IntN(256))
	}
	c.must(t, "SET", "str:random", rnd)
	c.must(t, "SET", "str:expire", "bye", "PXAT", farFuture)
	c.must(t, "SET", "12345", "int-key")
	c.must(t, "SET", strings.Repeat("k", 70), "long key")
	// lists
	c.must(t, "RPUSH", "list:small", "a", "b", "1", "2", "-100", "5000", "70000", "-9000000", "3000000000", "9223372036854775807", "")
	c.must(t, "PEXPIREAT", "list:small", farFuture+1)
	args := []any{"RPUSH", "list:big"}
	for i := 0; i < 2000; i++ {
		args = append(args, fmt.Sprintf("element-%d", i))
	}
	c.must(t, args...)
	args = []any{"RPUSH", "list:bigelems"}
	for i := 0; i < 12; i++ {
		args = append(args, strings.Repeat(string(rune('a'+i%26)), 1000+i*300))
	}
	c.must(t, args...)
	args = []any{"RPUSH", "list:mixed"}
	for i := 0; i < 200; i++ {
		if i%3 == 0 {
			args = append(args, fmt.Sprint(rng.Int64N(1<<40)-1<<39))
		} else {
			args = append(args, strings.Repeat("x", rng.IntN(200)))
		}
	}
	c.must(t, args...)
	c.must(t, "LPUSH", "list:lpush", "c", "b", "a")
	// sets
	c.must(t, "SADD", "set:intset16", "1", "2", "3", "-5", "100")
	c.must(t, "SADD", "set:intset32", "1", "100000", "-3")
	c.must(t, "SADD", "set:intset64", "1", "1099511627776", "-9223372036854775808")
	c.must(t, "SADD", "set:strs", "a", "b", "c", "1")
	args = []any{"SADD", "set:bigint"}
	for i := 0; i < 600; i++ {
		args = append(args, fmt.Sprint(i*7))
	}
	c.must(t, args...)
	args = []any{"SADD", "set:big"}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprintf("member:%d", i))
	}
	c.must(t, args...)
	// hashes
	c.must(t, "HSET", "hash:small", "f1", "v1", "f2", "123", "n", "-70000", "empty", "")
	c.must(t, "PEXPIREAT", "hash:small", farFuture+2)
	args = []any{"HSET", "hash:big"}
	for i := 0; i < 200; i++ {
		args = append(args, fmt.Sprintf("field:%d", i), fmt.Sprintf("value:%d", i))
	}
	c.must(t, args...)
	c.must(t, "HSET", "hash:longval", "f", strings.Repeat("v", 100), "g", "short")
	// zsets
	c.must(t, "ZADD", "zset:small", "1", "a", "2.5", "b", "-inf", "c", "+inf", "d", "0.1", "e", "-3", "f", "1e20", "g", "0", "h", "123456789", "i")
	args = []any{"ZADD", "zset:big"}
	for i := 0; i < 200; i++ {
		args = append(args, fmt.Sprint(float64(i)/3), fmt.Sprintf("m%d", i))
	}
	args = append(args, "inf", "top", "-inf", "bottom")
	c.must(t, args...)
	c.must(t, "ZADD", "zset:longmember", "1", strings.Repeat("m", 80), "2", "x")
	c.must(t, "PEXPIREAT", "zset:longmember", farFuture+3)
	// other databases
	c.must(t, "SELECT", 1)
	c.must(t, "SET", "db1:str", "one")
	c.must(t, "RPUSH", "db1:list", "x", "y")
	c.must(t, "SELECT", 5)
	c.must(t, "SET", "db5:str", "five", "PXAT", farFuture+5)
	c.must(t, "HSET", "db5:hash", "a", "1")
	c.must(t, "SELECT", 0)
	c.must(t, "FUNCTION", "LOAD", goldenFunction)
}

const goldenFunction = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)"

type jdump struct {
	Key      bstr   `json:"key"`
	Compress bool   `json:"compress"`
	Encoding string `json:"encoding"`
	Payload  string `json:"payload"`
}

func saveAs(t testing.TB, c *respConn, dir, name string) {
	c.must(t, "SAVE")
	data, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testdata(name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, name string, v any) {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testdata(name), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRegenerate rebuilds testdata/ from redis-server: go test -run TestRegenerate -regen
func TestRegenerate(t *testing.T) {
	if !*regen {
		t.Skip("pass -regen to regenerate testdata from a live redis-server")
	}
	dir := t.TempDir()
	s := startRedis(t, dir)
	c := s.conn(t)
	populate(t, c)
	ds := jdataset{Functions: []string{goldenFunction}, Keys: readAll(t, c)}
	writeJSON(t, "all.json", ds)
	c.must(t, "CONFIG", "SET", "rdbcompression", "yes")
	saveAs(t, c, dir, "all.rdb")
	c.must(t, "CONFIG", "SET", "rdbcompression", "no")
	saveAs(t, c, dir, "all-nocompress.rdb")
	c.must(t, "CONFIG", "SET", "rdbcompression", "yes")
	c.must(t, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
	saveAs(t, c, dir, "all-lru.rdb")
	c.must(t, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
	saveAs(t, c, dir, "all-lfu.rdb")
	c.must(t, "CONFIG", "SET", "maxmemory-policy", "noeviction")
	{ // rdbchecksum is immutable: load the file into a second server.
		dir2 := t.TempDir()
		data, _ := os.ReadFile(testdata("all.rdb"))
		os.WriteFile(filepath.Join(dir2, "dump.rdb"), data, 0o644)
		s2 := startRedis(t, dir2, "--rdbchecksum", "no")
		saveAs(t, s2.conn(t), dir2, "all-nochecksum.rdb")
	}
	// DUMP payloads of every db0 key, with and without compression.
	var dumps []jdump
	for _, comp := range []string{"yes", "no"} {
		c.must(t, "CONFIG", "SET", "rdbcompression", comp)
		for _, k := range ds.Keys {
			if k.DB != 0 {
				continue
			}
			p := c.must(t, "DUMP", []byte(k.Key)).([]byte)
			dumps = append(dumps, jdump{Key: k.Key, Compress: comp == "yes", Encoding: k.Encoding, Payload: hex.EncodeToString(p)})
		}
	}
	writeJSON(t, "dumps.json", dumps)
	// A stream (unsupported by the codec: must fail cleanly).
	c.must(t, "FLUSHALL")
	c.must(t, "FUNCTION", "FLUSH")
	c.must(t, "SET", "before", "x")
	c.must(t, "XADD", "stream", "1-1", "field", "value")
	c.must(t, "XGROUP", "CREATE", "stream", "grp", "0")
	saveAs(t, c, dir, "stream.rdb")
	t.Logf("regenerated testdata at %s", time.Now().Format(time.RFC3339))
}

func loadGoldenJSON(t testing.TB) jdataset {
	data, err := os.ReadFile(testdata("all.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ds jdataset
	if err := json.Unmarshal(data, &ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestGoldenFiles decodes each redis-generated file and compares with the
// contents captured from the server through commands.
func TestGoldenFiles(t *testing.T) {
	ds := loadGoldenJSON(t)
	want := canonKeys(ds.Keys)
	if len(want) < 30 {
		t.Fatalf("golden dataset too small: %d keys", len(want))
	}
	for _, name := range []string{"all.rdb", "all-nocompress.rdb", "all-lru.rdb", "all-lfu.rdb", "all-nochecksum.rdb"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(testdata(name))
			if err != nil {
				t.Fatal(err)
			}
			var c collector
			info, err := Load(bytes.NewReader(data), &c)
			if err != nil {
				t.Fatal(err)
			}
			diffCanon(t, name, c.canon(), want)
			if info.Version != 10 || info.BytesRead != int64(len(data)) {
				t.Errorf("info = %+v, file size %d", info, len(data))
			}
			if info.Aux["redis-ver"] != "7.0.15" || info.Aux["redis-bits"] != "64" || c.aux["ctime"] == "" {
				t.Errorf("aux = %v", info.Aux)
			}
			if !equalStrings(info.Functions, ds.Functions) || !equalStrings(c.funcs, ds.Functions) {
				t.Errorf("functions = %q, want %q", info.Functions, ds.Functions)
			}
			if name == "all-nochecksum.rdb" {
				if info.ChecksumVerified || info.Checksum != 0 {
					t.Errorf("expected no checksum, got %+v", info)
				}
			} else if !info.ChecksumVerified {
				t.Errorf("checksum not verified")
			}
			var dbs []uint64
			for _, r := range c.resize {
				dbs = append(dbs, r[0])
			}
			if fmt.Sprint(dbs) != "[0 1 5]" {
				t.Errorf("resizedb for dbs %v", dbs)
			}
			for _, e := range c.entries {
				lru, lfu := e.LRUIdle >= 0, e.LFUFreq >= 0
				switch {
				case name == "all-lru.rdb" && (!lru || lfu),
					name == "all-lfu.rdb" && (lru || !lfu),
					name != "all-lru.rdb" && name != "all-lfu.rdb" && (lru || lfu):
					t.Fatalf("%s: key %q LRUIdle=%d LFUFreq=%d", name, e.Key, e.LRUIdle, e.LFUFreq)
				}
			}
		})
	}
}

func equalStrings(a, b []string) bool { return fmt.Sprintf("%q", a) == fmt.Sprintf("%q", b) }

func TestGoldenStreamUnsupported(t *testing.T) {
	data, err := os.ReadFile(testdata("stream.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	_, err = Load(bytes.NewReader(data), &c)
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUnsupported) || !strings.Contains(ce.Reason, "stream") {
		t.Fatalf("want unsupported stream error, got %v", err)
	}
	for _, e := range c.entries {
		if string(e.Key) != "before" {
			t.Fatalf("unexpected entry %q", e.Key)
		}
	}
}

func loadDumps(t testing.TB) []jdump {
	data, err := os.ReadFile(testdata("dumps.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d []jdump
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGoldenDumps restores every redis DUMP payload and, for encodings
// whose layout is deterministic, checks DumpValue reproduces the payload
// byte for byte (compression off; our LZF output differs from liblzf's).
func TestGoldenDumps(t *testing.T) {
	ds := loadGoldenJSON(t)
	byKey := map[string]*jkey{}
	for i := range ds.Keys {
		if ds.Keys[i].DB == 0 {
			byKey[string(ds.Keys[i].Key)] = &ds.Keys[i]
		}
	}
	exact := 0
	for _, d := range loadDumps(t) {
		k := byKey[string(d.Key)]
		p, _ := hex.DecodeString(d.Payload)
		v, err := RestoreValue(p)
		if err != nil {
			t.Fatalf("%q: %v", d.Key, err)
		}
		if got, want := canon(0, d.Key, v, 0), canon(0, k.Key, k.value(), 0); got != want {
			t.Fatalf("%q: restored\n%.500s\nwant\n%.500s", d.Key, got, want)
		}
		switch d.Encoding {
		case "hashtable":
			continue // dict iteration order is not reproducible
		}
		if typ := DefaultThresholds().ObjectType(k.value()); byte(typ) != p[0] {
			t.Errorf("%q: we choose %v, redis chose type %d", d.Key, typ, p[0])
		}
		if d.Compress {
			continue
		}
		ours := DumpValue(k.value(), Options{})
		if !bytes.Equal(ours, p) {
			t.Errorf("%q (%s): DumpValue differs from redis DUMP\n ours  %x\n redis %x", d.Key, d.Encoding, trunc(ours), trunc(p))
		}
		exact++
	}
	if exact < 20 {
		t.Fatalf("only %d byte-exact comparisons", exact)
	}
	// corrupting the payload must be detected
	p, _ := hex.DecodeString(loadDumps(t)[0].Payload)
	p[0] ^= 1
	if _, err := RestoreValue(p); !errors.Is(err, ErrDumpPayload) || err.Error() != "DUMP payload version or checksum are wrong" {
		t.Fatalf("corrupted payload: %v", err)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
