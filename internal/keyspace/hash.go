package keyspace

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// Hash is Redis's hash type. Small hashes are kept "listpack"-like: one
// byte slice of (uvarint length, bytes) strings, field then value, in
// insertion order, which is what Redis's listpack encoding returns for
// HGETALL and friends. When a hash grows past hash-max-listpack-entries
// fields, or a field or value longer than hash-max-listpack-value bytes is
// stored, it is converted (one way, like Redis) to a chained hash table
// with power-of-two buckets, whose reverse-binary SCAN cursor never misses
// an element present for a whole HSCAN.
//
// Byte slices handed out by Get, Each, Random and Scan alias the hash's
// storage: callers must not modify them, and must copy them before the
// hash is mutated if they keep them.
type Hash struct {
	// lp is the compact form: nil when empty (or when ht is set), else a
	// 2-byte little-endian pair count followed by the strings.
	lp []byte
	ht *strTable[string] // hashtable form
}

// Defaults of the conversion thresholds (Redis 7.0's built-in configuration),
// used by Set; commands pass the configured values to SetLimits.
var (
	DefaultHashMaxListpackEntries = 512
	DefaultHashMaxListpackValue   = 64
	DefaultSetMaxIntsetEntries    = 512
)

// hashLPMaxCount bounds the compact form's pair count (its header is 16 bits).
const hashLPMaxCount = 65535

const lpHdr = 2

// NewHash returns an empty compact hash.
func NewHash() *Hash { return &Hash{} }

func (h *Hash) lpCount() int {
	if len(h.lp) < lpHdr {
		return 0
	}
	return int(binary.LittleEndian.Uint16(h.lp))
}

func (h *Hash) setLPCount(n int) { binary.LittleEndian.PutUint16(h.lp, uint16(n)) }

// Len implements Collection.
func (h *Hash) Len() int {
	if h.ht != nil {
		return h.ht.len()
	}
	return h.lpCount()
}

// MemUsage implements Collection.
func (h *Hash) MemUsage() int64 {
	if h.ht == nil {
		return 32 + int64(cap(h.lp))
	}
	// Like MEMORY USAGE's sampling: extrapolate from the first elements.
	var sum, seen int64
	h.ht.each(func(nd *htNode[string]) bool {
		sum += 48 + int64(len(nd.key)+len(nd.val))
		seen++
		return seen < 64
	})
	n := int64(64 + 8*h.ht.buckets())
	if seen > 0 {
		n += sum * int64(h.ht.len()) / seen
	}
	return n
}

// Clone implements Collection.
func (h *Hash) Clone() Collection {
	nh := &Hash{}
	if h.ht != nil {
		nh.ht = h.ht.clone()
	} else if h.lp != nil {
		nh.lp = append([]byte(nil), h.lp...)
	}
	return nh
}

// Encoding implements Collection.
func (h *Hash) Encoding() string {
	if h.ht != nil {
		return "hashtable"
	}
	return "listpack"
}

// IsCompact reports whether the hash is in its listpack form.
func (h *Hash) IsCompact() bool { return h.ht == nil }

// lpNext decodes the string at off and returns it and the offset after it.
func lpNext(lp []byte, off int) ([]byte, int) {
	l, n := binary.Uvarint(lp[off:])
	off += n
	end := off + int(l)
	return lp[off:end:end], end
}

// lpFind returns the offset of the pair whose field is field, the offset of
// its value, and the offset after the pair; start < 0 when absent.
func (h *Hash) lpFind(field []byte) (start, voff, end int) {
	lp := h.lp
	for off := lpHdr; off < len(lp); {
		f, next := lpNext(lp, off)
		_, vend := lpNext(lp, next)
		if bytes.Equal(f, field) {
			return off, next, vend
		}
		off = vend
	}
	return -1, 0, 0
}

func lpAppend(lp []byte, s []byte) []byte {
	lp = binary.AppendUvarint(lp, uint64(len(s)))
	return append(lp, s...)
}

func lpStrSize(s []byte) int {
	n := 1
	for l := len(s); l >= 0x80; l >>= 7 {
		n++
	}
	return n + len(s)
}

// grow makes room for need more bytes in the compact form, allocating
// exactly (no doubling: small hashes are the bulk of memory).
func (h *Hash) grow(need int) {
	if cap(h.lp)-len(h.lp) >= need {
		return
	}
	nb := make([]byte, len(h.lp), len(h.lp)+need)
	copy(nb, h.lp)
	h.lp = nb
}

// Reserve makes room for adding pairs totalling about n bytes of fields
// and values (HSET with many pairs allocates once).
func (h *Hash) Reserve(n int) {
	if h.ht == nil {
		if h.lp == nil {
			n += lpHdr
		}
		h.grow(n)
	}
}

// Get returns the value of field.
func (h *Hash) Get(field []byte) ([]byte, bool) {
	if h.ht != nil {
		nd := h.ht.get(b2s(field))
		if nd == nil {
			return nil, false
		}
		return s2b(nd.val), true
	}
	start, voff, _ := h.lpFind(field)
	if start < 0 {
		return nil, false
	}
	v, _ := lpNext(h.lp, voff)
	return v, true
}

// Has reports whether field exists.
func (h *Hash) Has(field []byte) bool {
	_, ok := h.Get(field)
	return ok
}

// Set stores field = value with the default conversion thresholds and
// reports whether the field is new.
func (h *Hash) Set(field, value []byte) bool {
	return h.SetLimits(field, value, DefaultHashMaxListpackEntries, DefaultHashMaxListpackValue)
}

// SetLimits stores field = value, converting to a hash table first when
// field or value is longer than maxValue and afterwards when the hash has
// more than maxEntries fields (Redis's hashTypeSet). It reports whether the
// field is new. field and value are copied.
func (h *Hash) SetLimits(field, value []byte, maxEntries, maxValue int) bool {
	if h.ht == nil && (len(field) > maxValue || len(value) > maxValue) {
		h.convert()
	}
	if h.ht != nil {
		nd, added := h.ht.insert(b2s(field))
		nd.val = string(value)
		return added
	}
	start, voff, end := h.lpFind(field)
	if start >= 0 {
		old, _ := lpNext(h.lp, voff)
		if bytes.Equal(old, value) {
			return false
		}
		var tmp [binary.MaxVarintLen64]byte
		hdr := binary.PutUvarint(tmp[:], uint64(len(value)))
		newLen := hdr + len(value)
		oldLen := end - voff
		if newLen != oldLen {
			tail := len(h.lp) - end
			if newLen > oldLen {
				h.grow(newLen - oldLen)
				h.lp = h.lp[:len(h.lp)+newLen-oldLen]
			}
			copy(h.lp[voff+newLen:], h.lp[end:end+tail])
			h.lp = h.lp[:voff+newLen+tail]
		}
		copy(h.lp[voff:], tmp[:hdr])
		copy(h.lp[voff+hdr:], value)
		return false
	}
	n := h.lpCount()
	if n >= hashLPMaxCount {
		h.convert()
		nd, _ := h.ht.insert(b2s(field))
		nd.val = string(value)
		return true
	}
	need := lpStrSize(field) + lpStrSize(value)
	if h.lp == nil {
		need += lpHdr
	}
	h.grow(need)
	if len(h.lp) == 0 {
		h.lp = h.lp[:lpHdr]
	}
	h.lp = lpAppend(h.lp, field)
	h.lp = lpAppend(h.lp, value)
	h.setLPCount(n + 1)
	if n+1 > maxEntries {
		h.convert()
	}
	return true
}

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field []byte) bool {
	if h.ht != nil {
		if h.ht.delete(b2s(field)) {
			h.ht.shrinkIfNeeded()
			return true
		}
		return false
	}
	start, _, end := h.lpFind(field)
	if start < 0 {
		return false
	}
	n := h.lpCount() - 1
	if n == 0 {
		h.lp = nil
		return true
	}
	h.lp = append(h.lp[:start], h.lp[end:]...)
	h.setLPCount(n)
	if cap(h.lp) > 2*len(h.lp)+64 {
		h.lp = append([]byte(nil), h.lp...)
	}
	return true
}

// Convert switches to the hash table form when the hash doesn't fit the
// given thresholds (more fields than maxEntries, or a field or value
// longer than maxValue). Loaders call it after filling a hash.
func (h *Hash) Convert(maxEntries, maxValue int) {
	if h.ht != nil {
		return
	}
	if h.lpCount() > maxEntries {
		h.convert()
		return
	}
	for off := lpHdr; off < len(h.lp); {
		var s []byte
		s, off = lpNext(h.lp, off)
		if len(s) > maxValue {
			h.convert()
			return
		}
	}
}

// ConvertToHashtable switches to the hash table form (no-op if already).
func (h *Hash) ConvertToHashtable() {
	if h.ht == nil {
		h.convert()
	}
}

func (h *Hash) convert() {
	t := newStrTable[string](h.lpCount())
	for off := lpHdr; off < len(h.lp); {
		var f, v []byte
		f, off = lpNext(h.lp, off)
		v, off = lpNext(h.lp, off)
		nd, _ := t.insert(b2s(f))
		nd.val = string(v)
	}
	h.ht = t
	h.lp = nil
}

// Each calls fn for every field and value (insertion order while compact)
// until fn returns false. fn must not modify the hash.
func (h *Hash) Each(fn func(field, value []byte) bool) {
	if h.ht != nil {
		h.ht.each(func(nd *htNode[string]) bool { return fn(s2b(nd.key), s2b(nd.val)) })
		return
	}
	for off := lpHdr; off < len(h.lp); {
		var f, v []byte
		f, off = lpNext(h.lp, off)
		v, off = lpNext(h.lp, off)
		if !fn(f, v) {
			return
		}
	}
}

// Random returns a random field and its value (the hash must not be empty).
// rnd(n) returns a uniform number in [0, n).
func (h *Hash) Random(rnd func(n uint64) uint64) (field, value []byte) {
	if h.ht != nil {
		nd := h.ht.random(rnd)
		return s2b(nd.key), s2b(nd.val)
	}
	return h.pairAt(int(rnd(uint64(h.lpCount()))))
}

func (h *Hash) pairAt(k int) (field, value []byte) {
	off := lpHdr
	for i := 0; i < k; i++ {
		_, off = lpNext(h.lp, off)
		_, off = lpNext(h.lp, off)
	}
	field, off = lpNext(h.lp, off)
	value, _ = lpNext(h.lp, off)
	return field, value
}

// RandomN calls fn count times with a random field and value (repetitions
// allowed), for HRANDFIELD with a negative count.
func (h *Hash) RandomN(count uint64, rnd func(n uint64) uint64, fn func(field, value []byte)) {
	if h.ht != nil {
		for ; count > 0; count-- {
			fn(h.Random(rnd))
		}
		return
	}
	n := h.lpCount()
	offs := make([]int32, 0, n)
	for off := lpHdr; off < len(h.lp); {
		offs = append(offs, int32(off))
		_, off = lpNext(h.lp, off)
		_, off = lpNext(h.lp, off)
	}
	for ; count > 0; count-- {
		f, off := lpNext(h.lp, int(offs[rnd(uint64(n))]))
		v, _ := lpNext(h.lp, off)
		fn(f, v)
	}
}

// Scan visits the bucket(s) addressed by cursor and returns the next cursor
// (0 when done). A compact hash is visited whole in one call, returning 0,
// as Redis does for listpack encodings.
func (h *Hash) Scan(cursor uint64, fn func(field, value []byte)) uint64 {
	if h.ht == nil {
		h.Each(func(f, v []byte) bool { fn(f, v); return true })
		return 0
	}
	return h.ht.scan(cursor, func(nd *htNode[string]) { fn(s2b(nd.key), s2b(nd.val)) })
}

// b2s views b as a string without copying (for lookups only).
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// s2b views an immutable string as bytes; the result must not be modified.
func s2b(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// ---------------------------------------------------------------------------
// strTable: the chained hash table behind the "hashtable" encodings of hashes
// and sets. Power-of-two buckets, incremental rehashing and the
// reverse-binary scan cursor, like Redis's dict.c (and keyspace.Dict).

var htSeed = maphash.MakeSeed()

type htNode[V any] struct {
	key  string
	val  V
	next *htNode[V]
}

type htBuckets[V any] struct {
	b    []*htNode[V]
	mask uint64
	used int
}

type strTable[V any] struct {
	t         [2]htBuckets[V]
	rehashIdx int // -1 when not rehashing
}

const htInitSize = 4

func newStrTable[V any](hint int) *strTable[V] {
	t := &strTable[V]{rehashIdx: -1}
	if hint > 0 {
		t.resize(hint)
	}
	return t
}

func htHash(key string) uint64 { return maphash.String(htSeed, key) }

func (t *strTable[V]) len() int        { return t.t[0].used + t.t[1].used }
func (t *strTable[V]) buckets() int    { return len(t.t[0].b) + len(t.t[1].b) }
func (t *strTable[V]) rehashing() bool { return t.rehashIdx >= 0 }

func (t *strTable[V]) rehashStep(n int) {
	if !t.rehashing() {
		return
	}
	empty := n * 10
	for ; n > 0 && t.t[0].used > 0; n-- {
		for t.t[0].b[t.rehashIdx] == nil {
			t.rehashIdx++
			empty--
			if empty == 0 {
				return
			}
		}
		nd := t.t[0].b[t.rehashIdx]
		for nd != nil {
			next := nd.next
			idx := htHash(nd.key) & t.t[1].mask
			nd.next = t.t[1].b[idx]
			t.t[1].b[idx] = nd
			t.t[0].used--
			t.t[1].used++
			nd = next
		}
		t.t[0].b[t.rehashIdx] = nil
		t.rehashIdx++
	}
	if t.t[0].used == 0 {
		t.t[0] = t.t[1]
		t.t[1] = htBuckets[V]{}
		t.rehashIdx = -1
	}
}

func (t *strTable[V]) resize(size int) {
	n := uint64(htInitSize)
	for n < uint64(size) {
		n <<= 1
	}
	if t.t[0].b == nil {
		t.t[0] = htBuckets[V]{b: make([]*htNode[V], n), mask: n - 1}
		return
	}
	if n == uint64(len(t.t[0].b)) {
		return
	}
	t.t[1] = htBuckets[V]{b: make([]*htNode[V], n), mask: n - 1}
	t.rehashIdx = 0
}

func (t *strTable[V]) expandIfNeeded() {
	if t.rehashing() {
		return
	}
	if t.t[0].b == nil {
		t.resize(htInitSize)
		return
	}
	if t.t[0].used >= len(t.t[0].b) {
		t.resize(t.t[0].used * 2)
	}
}

// shrinkIfNeeded resizes when less than 10% full, as Redis does after
// deletions from hash and set dicts (htNeedsResize).
func (t *strTable[V]) shrinkIfNeeded() {
	if t.rehashing() || t.t[0].b == nil {
		return
	}
	size := len(t.t[0].b)
	if size > htInitSize && t.t[0].used*100/size < 10 {
		t.resize(t.t[0].used)
	}
}

func (t *strTable[V]) get(key string) *htNode[V] {
	if t.len() == 0 {
		return nil
	}
	if t.rehashing() {
		t.rehashStep(1)
	}
	h := htHash(key)
	for i := 0; i < 2; i++ {
		tb := &t.t[i]
		if tb.b == nil {
			break
		}
		for nd := tb.b[h&tb.mask]; nd != nil; nd = nd.next {
			if nd.key == key {
				return nd
			}
		}
		if !t.rehashing() {
			break
		}
	}
	return nil
}

// insert returns the node of key, adding it (with a copy of key) when absent.
func (t *strTable[V]) insert(key string) (*htNode[V], bool) {
	if nd := t.get(key); nd != nil {
		return nd, false
	}
	t.expandIfNeeded()
	tb := &t.t[0]
	if t.rehashing() {
		tb = &t.t[1]
	}
	idx := htHash(key) & tb.mask
	nd := &htNode[V]{key: string([]byte(key)), next: tb.b[idx]}
	tb.b[idx] = nd
	tb.used++
	return nd, true
}

func (t *strTable[V]) delete(key string) bool {
	if t.len() == 0 {
		return false
	}
	if t.rehashing() {
		t.rehashStep(1)
	}
	h := htHash(key)
	for i := 0; i < 2; i++ {
		tb := &t.t[i]
		if tb.b == nil {
			break
		}
		p := &tb.b[h&tb.mask]
		for *p != nil {
			nd := *p
			if nd.key == key {
				*p = nd.next
				nd.next = nil
				tb.used--
				return true
			}
			p = &nd.next
		}
		if !t.rehashing() {
			break
		}
	}
	return false
}

func (t *strTable[V]) each(fn func(nd *htNode[V]) bool) {
	for i := 0; i < 2; i++ {
		for _, head := range t.t[i].b {
			for nd := head; nd != nil; nd = nd.next {
				if !fn(nd) {
					return
				}
			}
		}
	}
}

func (t *strTable[V]) clone() *strTable[V] {
	nt := newStrTable[V](t.len())
	t.each(func(nd *htNode[V]) bool {
		n, _ := nt.insert(nd.key)
		n.val = nd.val
		return true
	})
	return nt
}

// random returns a random node: a random non-empty bucket, then a random
// element of its chain (dictGetRandomKey). The table must not be empty.
func (t *strTable[V]) random(rnd func(n uint64) uint64) *htNode[V] {
	if t.rehashing() {
		t.rehashStep(1)
	}
	var head *htNode[V]
	for head == nil {
		if t.rehashing() {
			s0 := uint64(len(t.t[0].b))
			total := s0 + uint64(len(t.t[1].b)) - uint64(t.rehashIdx)
			i := uint64(t.rehashIdx) + rnd(total)
			if i >= s0 {
				head = t.t[1].b[i-s0]
			} else {
				head = t.t[0].b[i]
			}
		} else {
			head = t.t[0].b[rnd(t.t[0].mask+1)]
		}
	}
	n := 0
	for nd := head; nd != nil; nd = nd.next {
		n++
	}
	nd := head
	for k := rnd(uint64(n)); k > 0; k-- {
		nd = nd.next
	}
	return nd
}

func (t *strTable[V]) scan(cursor uint64, fn func(nd *htNode[V])) uint64 {
	if t.len() == 0 {
		return 0
	}
	if !t.rehashing() {
		tb := &t.t[0]
		m := tb.mask
		for nd := tb.b[cursor&m]; nd != nil; nd = nd.next {
			fn(nd)
		}
		return htNextCursor(cursor, m)
	}
	small, large := &t.t[0], &t.t[1]
	if len(small.b) > len(large.b) {
		small, large = large, small
	}
	m0, m1 := small.mask, large.mask
	for nd := small.b[cursor&m0]; nd != nil; nd = nd.next {
		fn(nd)
	}
	for {
		for nd := large.b[cursor&m1]; nd != nil; nd = nd.next {
			fn(nd)
		}
		cursor = htNextCursor(cursor, m1)
		if cursor&(m0^m1) == 0 {
			break
		}
	}
	return cursor
}

func htNextCursor(v, mask uint64) uint64 {
	v |= ^mask
	v = bits.Reverse64(v)
	v++
	return bits.Reverse64(v)
}
