package keyspace

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unsafe"
)

// Bulk insertion for loaders (RDB at start-up, DEBUG RELOAD, a replica's
// full sync, the RDB preamble of an AOF).
//
// Inserting a key is dominated by two cache misses: the bucket slot (a
// random place in a table of millions of pointers) and the chain head it
// points to (checked for a duplicate key). One at a time, each insert waits
// for both. LoadBatch first touches the slots, then the chain heads, of a
// whole batch in tight loops of independent loads, so the CPU overlaps the
// misses, and then links the entries one by one, in order, from cache.

// LoadBatchMax is the batch size LoadBatch is tuned for.
const LoadBatchMax = 64

// bulkSink keeps the touch loops' loads from being optimised away (atomic:
// loaders may run concurrently).
var bulkSink atomic.Uintptr

// LoadBatch inserts entries read from a file, in order, with their absolute
// expiries in unix ms (exps[i], 0 = none; exps may be nil). A key that is
// already present (a duplicate in the file) is replaced by the later entry,
// as DB.AddLoaded's callers do. It returns the number of such duplicates.
func (db *DB) LoadBatch(es []*Entry, exps []int64) int {
	if len(es) == 0 {
		return 0
	}
	var hs [LoadBatchMax]uint64
	var dup [LoadBatchMax]bool
	dups := 0
	for start := 0; start < len(es); start += LoadBatchMax {
		batch := es[start:min(start+LoadBatchMax, len(es))]
		for _, e := range batch {
			db.ks.stampNew(e)
		}
		d := db.dict
		d.bulkRoom(len(batch))
		dups += d.addBatch(batch, hs[:len(batch)], dup[:len(batch)])
		for i, e := range batch {
			if dup[i] {
				db.remove(e.key)
				db.dict.Add(e)
			}
			if exps != nil && exps[start+i] != 0 {
				db.SetExpire(e, exps[start+i])
			}
		}
	}
	return dups
}

// bulkRoom makes the table ready to take n more keys without an
// incremental rehash: it finishes a rehash in progress and grows the table
// at once when needed (loaders hold the dataset privately or before
// serving, so nobody waits on the pause).
func (d *Dict) bulkRoom(n int) {
	d.finishRehash()
	if d.t[0].buckets == nil {
		d.resize(max(n, dictInitSize))
		return
	}
	if need := d.t[0].used + n; need > len(d.t[0].buckets) {
		d.resize(need * 2)
		d.finishRehash()
	}
}

func (d *Dict) finishRehash() {
	for d.rehashing() {
		d.rehashStep(1024)
	}
}

// addBatch links the entries of es (stamped, detached, at most
// LoadBatchMax) into t[0], which has room for all of them and is not
// rehashing. dup[i] reports that es[i]'s key was already present (es[i] was
// not inserted); it returns how many were.
func (d *Dict) addBatch(es []*Entry, hs []uint64, dup []bool) int {
	t := &d.t[0]
	for i, e := range es {
		hs[i] = d.hash(e.key)
	}
	// Touch the bucket slots, then the chain heads: independent loads the
	// CPU issues in parallel.
	var sink uintptr
	for _, h := range hs {
		sink += uintptr(unsafe.Pointer(t.buckets[h&t.mask]))
	}
	for _, h := range hs {
		if x := t.buckets[h&t.mask]; x != nil {
			sink += uintptr(x.tag)
		}
	}
	bulkSink.Add(sink)
	n := 0
	for i, e := range es {
		h := hs[i]
		tag := uint16(h >> 48)
		idx := h & t.mask
		dup[i] = false
		for x := t.buckets[idx]; x != nil; x = x.next {
			if x.tag == tag && x.key == e.key {
				dup[i] = true
				break
			}
		}
		if dup[i] {
			n++
			continue
		}
		e.tag = tag
		e.next = t.buckets[idx]
		t.buckets[idx] = e
		t.used++
	}
	return n
}

// NewLoadedHash builds a hash from n (field, value) pairs read from a file
// (pair(i) returns the i-th; fields are distinct, which the RDB decoder
// guarantees), directly in the encoding Set with the default thresholds
// would end in, allocated once: no listpack regrown and searched per
// field, no conversion of a big hash halfway.
func NewLoadedHash(n int, pair func(i int) (field, value []byte)) *Hash {
	h := &Hash{}
	if n == 0 {
		return h
	}
	compact := n <= DefaultHashMaxListpackEntries && n <= hashLPMaxCount
	size := lpHeaderSize + 1
	for i := 0; compact && i < n; i++ {
		f, v := pair(i)
		if len(f) > DefaultHashMaxListpackValue || len(v) > DefaultHashMaxListpackValue {
			compact = false
		}
		fe, ve := lpMakeElem(f), lpMakeElem(v)
		size += fe.size() + ve.size()
	}
	if compact && size <= hashLPMaxBytes {
		lp := make([]byte, size)
		p := lpHeaderSize
		for i := 0; i < n; i++ {
			f, v := pair(i)
			fe, ve := lpMakeElem(f), lpMakeElem(v)
			p += fe.put(lp[p:])
			p += ve.put(lp[p:])
		}
		lp[p] = 0xFF
		h.lp = lp
		h.setLPHeader(n)
		return h
	}
	h.ht = newStrTable[string](n)
	for i := 0; i < n; i++ {
		f, v := pair(i)
		nd, _ := h.ht.insert(b2s(f))
		nd.val = string(v)
	}
	return h
}

// NewHashFromListpack builds a hash from the listpack of an RDB hash of
// type 16, which the caller hands over (the hash keeps lp as its storage).
// lp must have been validated (structure, an even element count, distinct
// fields: rdb.Load does all three). It stays the hash's compact form as is
// when it fits the default thresholds (and the listpack's element count is
// exact); otherwise the hash is converted to a hash table. maxLen is the
// length of its longest element if known (< 0: not known, checked here).
func NewHashFromListpack(lp []byte, maxLen int) *Hash {
	h := &Hash{}
	if len(lp) <= lpHeaderSize+1 {
		return h
	}
	h.lp = lp
	elems := int(binary.LittleEndian.Uint16(lp[4:]))
	if elems == 65535 || elems/2 > hashLPMaxCount {
		// Unknown (or too large) count: count the elements, convert.
		n := 0
		for off, last := lpHeaderSize, len(lp)-1; off < last; off = lpSkip(lp, off) {
			n++
		}
		t := newStrTable[string](n / 2)
		for it := newLPIter(lp); it.more(); {
			f := it.next()
			v := it.next()
			nd, _ := t.insert(b2s(f))
			nd.val = string(v)
		}
		h.lp, h.ht = nil, t
		return h
	}
	if maxLen >= 0 {
		if elems/2 > DefaultHashMaxListpackEntries || maxLen > DefaultHashMaxListpackValue {
			h.convert()
		}
		return h
	}
	if !h.fits(DefaultHashMaxListpackEntries, DefaultHashMaxListpackValue) {
		h.convert()
	}
	return h
}

// NewLoadedSet builds a set from n members read from a file (member(i)
// returns the i-th), directly in the encoding Add with the default intset
// limit would end in.
func NewLoadedSet(n int, member func(i int) []byte) *Set {
	if n <= DefaultSetMaxIntsetEntries {
		is := make([]int64, 0, n)
		for i := 0; i < n; i++ {
			v, ok := SetParseInt(member(i))
			if !ok {
				is = nil
				break
			}
			is = append(is, v)
		}
		if is != nil || n == 0 {
			slices.Sort(is)
			return &Set{is: slices.Compact(is)}
		}
	}
	s := &Set{ht: newStrTable[struct{}](n)}
	for i := 0; i < n; i++ {
		s.ht.insert(b2s(member(i)))
	}
	return s
}
