package persist

import (
	"os"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// BenchmarkLoadFile loads $VIGIL_BENCH_RDB (skipped when unset), e.g. a
// dump of DEBUG POPULATE 1000000, to profile start-up load speed.
func BenchmarkLoadFile(b *testing.B) {
	path := os.Getenv("VIGIL_BENCH_RDB")
	if path == "" {
		b.Skip("set VIGIL_BENCH_RDB to an RDB file")
	}
	for i := 0; i < b.N; i++ {
		ks := keyspace.New(16)
		ks.Now = func() int64 { return 0 }
		if _, err := LoadFile(path, ks, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveFile loads $VIGIL_BENCH_RDB once, then measures encoding the
// whole dataset to a file (as a foreground SAVE does, fsync included).
func BenchmarkSaveFile(b *testing.B) {
	path := os.Getenv("VIGIL_BENCH_RDB")
	if path == "" {
		b.Skip("set VIGIL_BENCH_RDB to an RDB file")
	}
	ks := keyspace.New(16)
	ks.Now = func() int64 { return 0 }
	if _, err := LoadFile(path, ks, false, nil); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir() + "/dump.rdb"
	opt := WriteOptions{Compress: true, Checksum: true}
	var capture time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		snap := ks.BeginSnapshot()
		capture += time.Since(t0)
		if _, err := SaveFile(out, snap, opt); err != nil {
			b.Fatal(err)
		}
		snap.Release()
	}
	b.ReportMetric(float64(capture.Milliseconds())/float64(b.N), "capture-ms/op")
}

// BenchmarkSaveKeyspaceFile is BenchmarkSaveFile through the lock-held path
// (no snapshot capture).
func BenchmarkSaveKeyspaceFile(b *testing.B) {
	path := os.Getenv("VIGIL_BENCH_RDB")
	if path == "" {
		b.Skip("set VIGIL_BENCH_RDB to an RDB file")
	}
	ks := keyspace.New(16)
	ks.Now = func() int64 { return 0 }
	if _, err := LoadFile(path, ks, false, nil); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir() + "/dump.rdb"
	opt := WriteOptions{Compress: true, Checksum: true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := SaveKeyspaceFile(out, ks, opt); err != nil {
			b.Fatal(err)
		}
	}
}
