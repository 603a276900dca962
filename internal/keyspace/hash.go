package keyspace

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/vigil-kv/vigil/internal/rdb"
)

// Hash is Redis's hash type. Small hashes are kept as a Redis listpack
// (the exact bytes redis-server 7.0 keeps in memory and writes to RDB files
// as type 16): field, value, field, value... in insertion order, canonical
// decimal integers stored with the integer encodings. Saving such a hash
// copies the blob as is, and loading one keeps the blob read from the file
// (after validating it): no per-field decode or re-encode either way. When
// a hash grows past hash-max-listpack-entries fields, or a field or value
// longer than hash-max-listpack-value bytes is stored, it is converted (one
// way, like Redis) to a chained hash table with power-of-two buckets, whose
// reverse-binary SCAN cursor never misses an element present for a whole
// HSCAN.
//
// Byte slices handed out by Get, Each, Random and Scan alias the hash's
// storage (or, for integer-encoded listpack elements, a fresh buffer):
// callers must not modify them, and must copy them before the hash is
// mutated if they keep them.
type Hash struct {
	// lp is the listpack form: nil when empty (or when ht is set). Its
	// element count (header) is exact: the compact form holds at most
	// hashLPMaxCount pairs.
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

// hashLPMaxCount bounds the compact form's pair count so that the
// listpack's 16-bit element count stays exact (65535 means "unknown").
const hashLPMaxCount = 32767

// hashLPMaxBytes is Redis's listpack safety limit (LISTPACK_MAX_SAFETY_SIZE):
// a listpack that would grow past it is converted.
const hashLPMaxBytes = 1 << 30

// NewHash returns an empty compact hash.
func NewHash() *Hash { return &Hash{} }

func (h *Hash) lpCount() int {
	if len(h.lp) < lpHeaderSize {
		return 0
	}
	return int(binary.LittleEndian.Uint16(h.lp[4:])) / 2
}

// setLPHeader writes the total size and the element count of pairs pairs.
func (h *Hash) setLPHeader(pairs int) {
	binary.LittleEndian.PutUint32(h.lp, uint32(len(h.lp)))
	binary.LittleEndian.PutUint16(h.lp[4:], uint16(2*pairs))
}

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

// Listpack returns the listpack of a compact, non-empty hash (nil
// otherwise): Redis's in-memory and RDB (type 16) encoding, alternating
// field and value. It aliases the hash: read only, and only until the
// hash is mutated.
func (h *Hash) Listpack() []byte {
	if h.ht != nil || len(h.lp) == 0 {
		return nil
	}
	return h.lp
}

// ---------------------------------------------------------------------------
// listpack primitives (trusted input: the hash's own blob)
//
// Layout: total bytes (uint32 LE), element count (uint16 LE), entries,
// 0xFF. Each entry is <encoding+data><backlen>; backlen stores
// len(encoding+data) in 1-5 bytes.

const lpHeaderSize = 6

// lpParseInt reports whether b is the canonical decimal form of an int64
// (what listpack stores with an integer encoding: no '+', no leading zeros,
// no "-0", at most 20 bytes), like Redis's lpStringToInt64.
func lpParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if c := b[0]; c > '9' || (c < '0' && c != '-') {
		return 0, false // fast path: most strings start with a letter
	}
	return rdb.ParseCanonicalInt(b)
}

// lpElem is an element to be written: a string, or an integer when isInt.
type lpElem struct {
	s     []byte
	iv    int64
	isInt bool
}

func lpMakeElem(s []byte) lpElem {
	iv, ok := lpParseInt(s)
	return lpElem{s: s, iv: iv, isInt: ok}
}

func (e *lpElem) encLen() int {
	if e.isInt {
		v := e.iv
		switch {
		case v >= 0 && v <= 127:
			return 1
		case v >= -4096 && v <= 4095:
			return 2
		case v >= math.MinInt16 && v <= math.MaxInt16:
			return 3
		case v >= -(1<<23) && v < 1<<23:
			return 4
		case v >= math.MinInt32 && v <= math.MaxInt32:
			return 5
		}
		return 9
	}
	n := len(e.s)
	switch {
	case n < 64:
		return 1 + n
	case n < 4096:
		return 2 + n
	}
	return 5 + n
}

// size is the entry's size in the listpack, back length included.
func (e *lpElem) size() int {
	l := e.encLen()
	return l + rdb.BacklenSize(l)
}

// put writes the entry at the start of b (which has room for e.size()
// bytes) and returns its size.
func (e *lpElem) put(b []byte) int {
	p := 0
	if e.isInt {
		v := e.iv
		switch {
		case v >= 0 && v <= 127:
			b[0] = byte(v)
			p = 1
		case v >= -4096 && v <= 4095:
			u := uint64(v) & 0x1fff
			b[0], b[1] = 0xC0|byte(u>>8), byte(u)
			p = 2
		case v >= math.MinInt16 && v <= math.MaxInt16:
			b[0], b[1], b[2] = 0xF1, byte(v), byte(v>>8)
			p = 3
		case v >= -(1<<23) && v < 1<<23:
			b[0], b[1], b[2], b[3] = 0xF2, byte(v), byte(v>>8), byte(v>>16)
			p = 4
		case v >= math.MinInt32 && v <= math.MaxInt32:
			b[0] = 0xF3
			binary.LittleEndian.PutUint32(b[1:], uint32(v))
			p = 5
		default:
			b[0] = 0xF4
			binary.LittleEndian.PutUint64(b[1:], uint64(v))
			p = 9
		}
	} else {
		n := len(e.s)
		switch {
		case n < 64:
			b[0] = 0x80 | byte(n)
			p = 1
		case n < 4096:
			b[0], b[1] = 0xE0|byte(n>>8), byte(n)
			p = 2
		default:
			b[0] = 0xF0
			binary.LittleEndian.PutUint32(b[1:], uint32(n))
			p = 5
		}
		p += copy(b[p:], e.s)
	}
	l := p
	switch {
	case l < 128:
		b[p] = byte(l)
		p++
	case l < 16384:
		b[p], b[p+1] = byte(l>>7), byte(l&127)|128
		p += 2
	case l < 2097152:
		b[p], b[p+1], b[p+2] = byte(l>>14), byte(l>>7&127)|128, byte(l&127)|128
		p += 3
	case l < 268435456:
		b[p], b[p+1], b[p+2], b[p+3] = byte(l>>21), byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128
		p += 4
	default:
		b[p], b[p+1], b[p+2], b[p+3], b[p+4] = byte(l>>28), byte(l>>21&127)|128, byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128
		p += 5
	}
	return p
}

// lpAt decodes the entry at off: a string (s, a view) or an integer (iv,
// isInt), and the offset of the next entry.
func lpAt(lp []byte, off int) (s []byte, iv int64, isInt bool, next int) {
	c := lp[off]
	var hdr, dlen int
	switch {
	case c&0x80 == 0:
		return nil, int64(c), true, off + 2
	case c&0xC0 == 0x80:
		hdr, dlen = 1, int(c&0x3f)
	case c&0xE0 == 0xC0:
		u := int64(c&0x1f)<<8 | int64(lp[off+1])
		if u >= 1<<12 {
			u -= 1 << 13
		}
		return nil, u, true, off + 3
	case c&0xF0 == 0xE0:
		hdr, dlen = 2, int(c&0x0f)<<8|int(lp[off+1])
	case c == 0xF0:
		hdr, dlen = 5, int(binary.LittleEndian.Uint32(lp[off+1:]))
	case c == 0xF1:
		return nil, int64(int16(binary.LittleEndian.Uint16(lp[off+1:]))), true, off + 4
	case c == 0xF2:
		u := int32(uint32(lp[off+1])|uint32(lp[off+2])<<8|uint32(lp[off+3])<<16) << 8 >> 8
		return nil, int64(u), true, off + 5
	case c == 0xF3:
		return nil, int64(int32(binary.LittleEndian.Uint32(lp[off+1:]))), true, off + 6
	default: // 0xF4
		return nil, int64(binary.LittleEndian.Uint64(lp[off+1:])), true, off + 10
	}
	l := hdr + dlen
	start := off + hdr
	return lp[start : start+dlen : start+dlen], 0, false, off + l + rdb.BacklenSize(l)
}

// lpSkip returns the offset of the entry after the one at off.
func lpSkip(lp []byte, off int) int {
	c := lp[off]
	if c&0xC0 == 0x80 { // short string: the common case
		return off + int(c&0x3f) + 2
	}
	_, _, _, next := lpAt(lp, off)
	return next
}

// lpBytes returns the entry at off as bytes (integers formatted into a new
// buffer) and the offset of the next entry.
func lpBytes(lp []byte, off int) ([]byte, int) {
	s, iv, isInt, next := lpAt(lp, off)
	if isInt {
		s = strconv.AppendInt(make([]byte, 0, 20), iv, 10)
	}
	return s, next
}

// lpIter walks a listpack, formatting integer elements into one growing
// buffer whose slices stay valid after the walk (each is capped, and a
// reallocation leaves earlier slices on the old array).
type lpIter struct {
	lp  []byte
	off int
	num []byte
}

func newLPIter(lp []byte) lpIter { return lpIter{lp: lp, off: lpHeaderSize} }

func (it *lpIter) more() bool { return it.off < len(it.lp)-1 }

func (it *lpIter) next() []byte {
	s, iv, isInt, next := lpAt(it.lp, it.off)
	it.off = next
	if isInt {
		start := len(it.num)
		it.num = strconv.AppendInt(it.num, iv, 10)
		s = it.num[start:len(it.num):len(it.num)]
	}
	return s
}

// lpElemLen is the byte length of the element at off as a string.
func lpElemLen(lp []byte, off int) (int, int) {
	s, iv, isInt, next := lpAt(lp, off)
	if isInt {
		return decimalLen(iv), next
	}
	return len(s), next
}

func decimalLen(v int64) int {
	n := 1
	u := uint64(v)
	if v < 0 {
		n++
		u = uint64(-v)
	}
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// lpMatch reports whether the entry at off equals field (fiv/fint: field
// parsed as a canonical integer) and returns the offset of the next entry.
func lpMatch(lp []byte, off int, field []byte, fiv int64, fint bool) (bool, int) {
	c := lp[off]
	if c&0xC0 == 0x80 {
		n := int(c & 0x3f)
		next := off + n + 2
		return n == len(field) && string(lp[off+1:off+1+n]) == string(field), next
	}
	s, iv, isInt, next := lpAt(lp, off)
	if isInt {
		return fint && iv == fiv, next
	}
	return bytes.Equal(s, field), next
}

// lpFind returns the offset of the pair whose field is field, the offset of
// its value, and the offset after the pair; start < 0 when absent.
func (h *Hash) lpFind(field []byte) (start, voff, end int) {
	lp := h.lp
	if len(lp) == 0 {
		return -1, 0, 0
	}
	fiv, fint := lpParseInt(field)
	last := len(lp) - 1
	for off := lpHeaderSize; off < last; {
		ok, next := lpMatch(lp, off, field, fiv, fint)
		vend := lpSkip(lp, next)
		if ok {
			return off, next, vend
		}
		off = vend
	}
	return -1, 0, 0
}

// grow makes room for need more bytes in the compact form. A hash grown
// by one HSET at a time gets some slack (an eighth), so it is not copied
// whole on every field added.
func (h *Hash) grow(need int) {
	if cap(h.lp)-len(h.lp) >= need {
		return
	}
	n := len(h.lp) + need
	if len(h.lp) > 0 {
		n += n / 8
	}
	nb := make([]byte, len(h.lp), n)
	copy(nb, h.lp)
	h.lp = nb
}

// Reserve makes room for adding pairs totalling about n bytes of encoded
// fields and values (HSET with many pairs allocates once).
func (h *Hash) Reserve(n int) {
	if h.ht == nil {
		if len(h.lp) == 0 {
			n += lpHeaderSize + 1
		}
		if cap(h.lp)-len(h.lp) < n {
			nb := make([]byte, len(h.lp), len(h.lp)+n)
			copy(nb, h.lp)
			h.lp = nb
		}
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
	v, _ := lpBytes(h.lp, voff)
	return v, true
}

// Has reports whether field exists.
func (h *Hash) Has(field []byte) bool {
	if h.ht != nil {
		return h.ht.get(b2s(field)) != nil
	}
	start, _, _ := h.lpFind(field)
	return start >= 0
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
	ve := lpMakeElem(value)
	start, voff, end := h.lpFind(field)
	if start >= 0 {
		newLen := ve.size()
		oldLen := end - voff
		if newLen > oldLen && len(h.lp)+newLen-oldLen > hashLPMaxBytes {
			h.convert()
			nd, _ := h.ht.insert(b2s(field))
			nd.val = string(value)
			return false
		}
		if newLen != oldLen {
			tail := len(h.lp) - end
			if newLen > oldLen {
				h.grow(newLen - oldLen)
				h.lp = h.lp[:len(h.lp)+newLen-oldLen]
			}
			copy(h.lp[voff+newLen:], h.lp[end:end+tail])
			h.lp = h.lp[:voff+newLen+tail]
		}
		ve.put(h.lp[voff:])
		h.setLPHeader(h.lpCount())
		return false
	}
	n := h.lpCount()
	fe := lpMakeElem(field)
	need := fe.size() + ve.size()
	if n >= hashLPMaxCount || len(h.lp)+need+lpHeaderSize+1 > hashLPMaxBytes {
		h.convert()
		nd, _ := h.ht.insert(b2s(field))
		nd.val = string(value)
		return true
	}
	if len(h.lp) == 0 { // nil, or reserved and still empty
		h.grow(lpHeaderSize + 1 + need)
		h.lp = append(h.lp[:0], 0, 0, 0, 0, 0, 0, 0xFF)
	} else {
		h.grow(need)
	}
	// Overwrite the terminator, append the pair, terminate again.
	p := len(h.lp) - 1
	h.lp = h.lp[:p+need+1]
	p += fe.put(h.lp[p:])
	p += ve.put(h.lp[p:])
	h.lp[p] = 0xFF
	h.setLPHeader(n + 1)
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
	h.setLPHeader(n)
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
	if !h.fits(maxEntries, maxValue) {
		h.convert()
	}
}

// fits reports whether the compact form is within the thresholds.
func (h *Hash) fits(maxEntries, maxValue int) bool {
	if h.lpCount() > maxEntries {
		return false
	}
	if maxValue >= 20 { // integers are at most 20 bytes long
		for off, last := lpHeaderSize, len(h.lp)-1; off < last; {
			c := h.lp[off]
			if c&0xC0 == 0x80 { // short string (< 64 bytes)
				if int(c&0x3f) > maxValue {
					return false
				}
				off += int(c&0x3f) + 2
				continue
			}
			s, _, isInt, next := lpAt(h.lp, off)
			if !isInt && len(s) > maxValue {
				return false
			}
			off = next
		}
		return true
	}
	for off, last := lpHeaderSize, len(h.lp)-1; off < last; {
		var l int
		l, off = lpElemLen(h.lp, off)
		if l > maxValue {
			return false
		}
	}
	return true
}

// ConvertToHashtable switches to the hash table form (no-op if already).
func (h *Hash) ConvertToHashtable() {
	if h.ht == nil {
		h.convert()
	}
}

func (h *Hash) convert() {
	t := newStrTable[string](h.lpCount())
	if len(h.lp) > 0 {
		for it := newLPIter(h.lp); it.more(); {
			f := it.next()
			v := it.next()
			nd, _ := t.insert(b2s(f))
			nd.val = string(v)
		}
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
	if len(h.lp) == 0 {
		return
	}
	for it := newLPIter(h.lp); it.more(); {
		f := it.next()
		v := it.next()
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
	off := lpHeaderSize
	for i := 0; i < k; i++ {
		off = lpSkip(h.lp, lpSkip(h.lp, off))
	}
	field, off = lpBytes(h.lp, off)
	value, _ = lpBytes(h.lp, off)
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
	for off, last := lpHeaderSize, len(h.lp)-1; off < last; {
		offs = append(offs, int32(off))
		off = lpSkip(h.lp, lpSkip(h.lp, off))
	}
	for ; count > 0; count-- {
		f, off := lpBytes(h.lp, int(offs[rnd(uint64(n))]))
		v, _ := lpBytes(h.lp, off)
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
