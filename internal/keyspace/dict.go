package keyspace

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"time"
)

// Dict is the key table of one database: a chained hash table with power-of-two
// buckets and incremental rehashing, as Redis's dict.c.
//
// Go's map would be simpler, but it cannot give us three things Redis clients
// rely on: a SCAN cursor that never misses a key present for the whole scan
// even while the table grows or shrinks (the reverse-binary cursor needs to
// know the bucket layout), cheap uniform-ish random sampling for RANDOMKEY and
// eviction, and rehashing spread across many operations instead of one long
// pause when a table of millions of keys doubles.
type Dict struct {
	seed      maphash.Seed
	t         [2]table
	rehashIdx int // -1 when not rehashing; otherwise next bucket of t[0] to move
	// paused > 0 stops entries from moving between buckets (no rehash
	// steps, no shrinking) while a snapshot capture walks the buckets in
	// order; a resize may still start, new entries then go to t[1].
	paused int
}

type table struct {
	buckets []*Entry
	mask    uint64
	used    int
}

const dictInitSize = 4

// NewDict returns an empty dictionary.
func NewDict() *Dict {
	return &Dict{seed: maphash.MakeSeed(), rehashIdx: -1}
}

func (d *Dict) hash(key string) uint64 { return maphash.String(d.seed, key) }

// Len returns the number of keys.
func (d *Dict) Len() int { return d.t[0].used + d.t[1].used }

func (d *Dict) rehashing() bool { return d.rehashIdx >= 0 }

// rehashStep moves up to n buckets from the old table to the new one, visiting
// at most 10*n empty buckets, so one call is bounded like Redis's dictRehash.
func (d *Dict) rehashStep(n int) {
	if !d.rehashing() || d.paused > 0 {
		return
	}
	empty := n * 10
	for ; n > 0 && d.t[0].used > 0; n-- {
		for d.t[0].buckets[d.rehashIdx] == nil {
			d.rehashIdx++
			empty--
			if empty == 0 {
				return
			}
		}
		e := d.t[0].buckets[d.rehashIdx]
		for e != nil {
			next := e.next
			idx := d.hash(e.key) & d.t[1].mask
			e.next = d.t[1].buckets[idx]
			d.t[1].buckets[idx] = e
			d.t[0].used--
			d.t[1].used++
			e = next
		}
		d.t[0].buckets[d.rehashIdx] = nil
		d.rehashIdx++
	}
	if d.t[0].used == 0 {
		d.t[0] = d.t[1]
		d.t[1] = table{}
		d.rehashIdx = -1
	}
}

func (d *Dict) resize(size int) {
	n := uint64(dictInitSize)
	for n < uint64(size) {
		n <<= 1
	}
	if d.t[0].buckets == nil {
		d.t[0] = table{buckets: make([]*Entry, n), mask: n - 1}
		return
	}
	if n == uint64(len(d.t[0].buckets)) {
		return
	}
	d.t[1] = table{buckets: make([]*Entry, n), mask: n - 1}
	d.rehashIdx = 0
}

func (d *Dict) expandIfNeeded() {
	if d.rehashing() {
		return
	}
	if d.t[0].buckets == nil {
		d.resize(dictInitSize)
		return
	}
	if d.t[0].used >= len(d.t[0].buckets) {
		d.resize(d.t[0].used * 2)
	}
}

// ShrinkIfNeeded halves the table when it is less than 1/8 full, as Redis's
// cron does (htNeedsResize), so memory is returned after mass deletion.
func (d *Dict) ShrinkIfNeeded() {
	if d.rehashing() || d.t[0].buckets == nil || d.paused > 0 {
		return
	}
	size := len(d.t[0].buckets)
	if size > dictInitSize && d.t[0].used*8 < size {
		d.resize(d.t[0].used)
	}
}

// Get returns the entry for key or nil.
func (d *Dict) Get(key string) *Entry {
	if d.Len() == 0 {
		return nil
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	h := d.hash(key)
	tag := uint16(h >> 48)
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if t.buckets == nil {
			break
		}
		for e := t.buckets[h&t.mask]; e != nil; e = e.next {
			if e.tag == tag && e.key == key {
				return e
			}
		}
		if !d.rehashing() {
			break
		}
	}
	return nil
}

// Add inserts e; the caller guarantees the key is absent.
func (d *Dict) Add(e *Entry) {
	if d.rehashing() {
		d.rehashStep(1)
	}
	d.expandIfNeeded()
	t := &d.t[0]
	if d.rehashing() {
		t = &d.t[1]
	}
	h := d.hash(e.key)
	e.tag = uint16(h >> 48)
	idx := h & t.mask
	e.next = t.buckets[idx]
	t.buckets[idx] = e
	t.used++
}

// Replace swaps the entry old (present) for e with the same key.
func (d *Dict) Replace(old, e *Entry) {
	h := d.hash(old.key)
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if t.buckets == nil {
			continue
		}
		p := &t.buckets[h&t.mask]
		for *p != nil {
			if *p == old {
				e.tag = old.tag
				e.next = old.next
				old.next = nil
				*p = e
				return
			}
			p = &(*p).next
		}
	}
}

// Delete removes key and returns its entry, or nil.
func (d *Dict) Delete(key string) *Entry {
	if d.Len() == 0 {
		return nil
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	h := d.hash(key)
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if t.buckets == nil {
			break
		}
		p := &t.buckets[h&t.mask]
		for *p != nil {
			e := *p
			if e.key == key {
				*p = e.next
				e.next = nil
				t.used--
				return e
			}
			p = &e.next
		}
		if !d.rehashing() {
			break
		}
	}
	return nil
}

// Clear empties the dictionary.
func (d *Dict) Clear() {
	d.t[0] = table{}
	d.t[1] = table{}
	d.rehashIdx = -1
}

// Random returns a random entry (nil when empty). Like dictGetRandomKey it
// picks a random non-empty bucket then a random element of its chain; chains
// are short so the bias is small.
func (d *Dict) Random(rnd func(n uint64) uint64) *Entry {
	if d.Len() == 0 {
		return nil
	}
	if d.rehashing() {
		d.rehashStep(1)
	}
	var head *Entry
	for tries := 0; head == nil; tries++ {
		if d.rehashing() {
			// Buckets of t[0] below rehashIdx are empty.
			s0 := uint64(len(d.t[0].buckets))
			total := s0 + uint64(len(d.t[1].buckets)) - uint64(d.rehashIdx)
			i := uint64(d.rehashIdx) + rnd(total)
			if i >= s0 {
				head = d.t[1].buckets[i-s0]
			} else {
				head = d.t[0].buckets[i]
			}
		} else {
			head = d.t[0].buckets[rnd(d.t[0].mask+1)]
		}
	}
	n := 0
	for e := head; e != nil; e = e.next {
		n++
	}
	k := rnd(uint64(n))
	e := head
	for ; k > 0; k-- {
		e = e.next
	}
	return e
}

// Scan calls fn for every entry in the bucket(s) addressed by cursor and
// returns the next cursor (0 when the iteration is complete). The cursor is
// incremented in reverse-binary order, so when the table grows or shrinks
// between calls no element present for the whole scan is missed (elements may
// be returned more than once), exactly the guarantee SCAN documents.
func (d *Dict) Scan(cursor uint64, fn func(e *Entry)) uint64 {
	if d.Len() == 0 {
		return 0
	}
	if !d.rehashing() {
		t := &d.t[0]
		m := t.mask
		for e := t.buckets[cursor&m]; e != nil; e = e.next {
			fn(e)
		}
		return nextCursor(cursor, m)
	}
	small, large := &d.t[0], &d.t[1]
	if len(small.buckets) > len(large.buckets) {
		small, large = large, small
	}
	m0, m1 := small.mask, large.mask
	for e := small.buckets[cursor&m0]; e != nil; e = e.next {
		fn(e)
	}
	// Visit every bucket of the larger table that expands the small bucket.
	for {
		for e := large.buckets[cursor&m1]; e != nil; e = e.next {
			fn(e)
		}
		cursor = nextCursor(cursor, m1)
		if cursor&(m0^m1) == 0 {
			break
		}
	}
	return cursor
}

func nextCursor(v, mask uint64) uint64 {
	v |= ^mask
	v = bits.Reverse64(v)
	v++
	return bits.Reverse64(v)
}

// ForEach visits every entry; fn must not modify the dictionary.
func (d *Dict) ForEach(fn func(e *Entry) bool) {
	for i := 0; i < 2; i++ {
		for _, head := range d.t[i].buckets {
			for e := head; e != nil; e = e.next {
				if !fn(e) {
					return
				}
			}
		}
	}
}

// RehashFor spends up to d of time moving buckets of an in-progress rehash,
// as Redis's cron does (incrementallyRehash), so a table that stopped
// receiving traffic doesn't stay half-rehashed with long chains.
func (d *Dict) RehashFor(budget time.Duration) {
	if !d.rehashing() {
		return
	}
	start := time.Now()
	for d.rehashing() && d.paused == 0 && time.Since(start) < budget {
		d.rehashStep(100)
	}
}

// Stats describes the table for DEBUG HTSTATS: sizes, used slots, chains.
func (d *Dict) Stats() string {
	var b []byte
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if t.buckets == nil {
			continue
		}
		maxChain, slots := 0, 0
		for _, h := range t.buckets {
			c := 0
			for e := h; e != nil; e = e.next {
				c++
			}
			if c > 0 {
				slots++
			}
			if c > maxChain {
				maxChain = c
			}
		}
		b = fmt.Appendf(b, "Hash table %d stats (main hash table):\n table size: %d\n number of elements: %d\n different slots: %d\n max chain length: %d\n", i, len(t.buckets), t.used, slots, maxChain)
	}
	if len(b) == 0 {
		return "No stats available for empty dictionaries\n"
	}
	return string(b)
}

// Reserve sizes an empty (or small) table for n keys up front, so bulk
// loads (RDB, full sync) don't rehash repeatedly.
func (d *Dict) Reserve(n int) {
	if d.rehashing() || n <= len(d.t[0].buckets) {
		return
	}
	if d.t[0].buckets == nil || d.t[0].used == 0 {
		d.t[0] = table{}
		d.resize(n)
		return
	}
	d.resize(n)
}

// AddIfAbsent inserts e unless its key is present, hashing once; it
// returns the existing entry when there is one (bulk loads check for
// duplicate keys this way).
func (d *Dict) AddIfAbsent(e *Entry) *Entry {
	if d.rehashing() {
		d.rehashStep(1)
	}
	d.expandIfNeeded()
	h := d.hash(e.key)
	tag := uint16(h >> 48)
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if t.buckets == nil {
			break
		}
		for x := t.buckets[h&t.mask]; x != nil; x = x.next {
			if x.tag == tag && x.key == e.key {
				return x
			}
		}
		if !d.rehashing() {
			break
		}
	}
	t := &d.t[0]
	if d.rehashing() {
		t = &d.t[1]
	}
	e.tag = tag
	idx := h & t.mask
	e.next = t.buckets[idx]
	t.buckets[idx] = e
	t.used++
	return nil
}
