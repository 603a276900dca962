package keyspace

import (
	"testing"
	"unsafe"
)

// The entry is the per-key overhead; keep it within the 80-byte size class
// (the memory-per-key target against redis-server depends on it).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(Entry{}); n > 80 {
		t.Fatalf("Entry is %d bytes, want <= 80", n)
	}
}
