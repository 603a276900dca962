package keyspace

import (
	"slices"
	"strconv"
)

// Set is Redis's set type: an "intset" (sorted int64 slice) while every
// member is a canonical decimal integer and there are at most
// set-max-intset-entries members, else a hash table (converted one way,
// like Redis 7.0, which has no listpack sets).
//
// Byte slices handed out by Each, Random and Scan may alias the set's
// storage (or a scratch buffer for intsets): callers must not modify them
// and must copy them if they keep them past the next call.
type Set struct {
	is []int64             // intset form, sorted (when ht == nil)
	ht *strTable[struct{}] // hashtable form
}

// NewSet returns an empty set in intset form.
func NewSet() *Set { return &Set{} }

// NewSetHashtable returns an empty set in hashtable form.
func NewSetHashtable() *Set { return &Set{ht: newStrTable[struct{}](0)} }

// Len implements Collection.
func (s *Set) Len() int {
	if s.ht != nil {
		return s.ht.len()
	}
	return len(s.is)
}

// MemUsage implements Collection.
func (s *Set) MemUsage() int64 {
	if s.ht == nil {
		return 32 + 8*int64(cap(s.is))
	}
	var sum, seen int64
	s.ht.each(func(nd *htNode[struct{}]) bool {
		sum += 32 + int64(len(nd.key))
		seen++
		return seen < 64
	})
	n := int64(48 + 8*s.ht.buckets())
	if seen > 0 {
		n += sum * int64(s.ht.len()) / seen
	}
	return n
}

// Clone implements Collection.
func (s *Set) Clone() Collection {
	if s.ht != nil {
		return &Set{ht: s.ht.clone()}
	}
	return &Set{is: slices.Clone(s.is)}
}

// Encoding implements Collection.
func (s *Set) Encoding() string {
	if s.ht != nil {
		return "hashtable"
	}
	return "intset"
}

// IsIntset reports whether the set is in intset form.
func (s *Set) IsIntset() bool { return s.ht == nil }

// SetParseInt parses member as Redis's string2ll does (canonical decimal
// int64: no '+', no leading zeros, no spaces, no "-0").
func SetParseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	i := 0
	if neg {
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

func (s *Set) isFind(v int64) (int, bool) {
	return slices.BinarySearch(s.is, v)
}

// Add inserts member with the default intset limit; it reports whether
// member was new.
func (s *Set) Add(member []byte) bool {
	return s.AddLimit(member, DefaultSetMaxIntsetEntries)
}

// AddLimit inserts member, converting to a hash table when member is not an
// integer or the intset grows past maxIntset members (setTypeAdd).
func (s *Set) AddLimit(member []byte, maxIntset int) bool {
	if s.ht == nil {
		if v, ok := SetParseInt(member); ok {
			i, found := s.isFind(v)
			if found {
				return false
			}
			s.is = slices.Insert(s.is, i, v)
			if len(s.is) > maxIntset {
				s.convert(len(s.is))
			}
			return true
		}
		s.convert(len(s.is) + 1)
	}
	_, added := s.ht.insert(b2s(member))
	return added
}

// Has reports whether member is in the set.
func (s *Set) Has(member []byte) bool {
	if s.ht != nil {
		return s.ht.get(b2s(member)) != nil
	}
	v, ok := SetParseInt(member)
	if !ok {
		return false
	}
	_, found := s.isFind(v)
	return found
}

// Remove deletes member and reports whether it was present.
func (s *Set) Remove(member []byte) bool {
	if s.ht != nil {
		if s.ht.delete(b2s(member)) {
			s.ht.shrinkIfNeeded()
			return true
		}
		return false
	}
	v, ok := SetParseInt(member)
	if !ok {
		return false
	}
	i, found := s.isFind(v)
	if !found {
		return false
	}
	s.is = slices.Delete(s.is, i, i+1)
	if len(s.is) == 0 {
		s.is = nil
	}
	return true
}

// Convert switches to the hash table form when the set doesn't fit in an
// intset of at most maxIntset members (loaders call it after filling).
func (s *Set) Convert(maxIntset int) {
	if s.ht == nil && len(s.is) > maxIntset {
		s.convert(len(s.is))
	}
}

// ConvertToHashtable switches to the hash table form (no-op if already).
func (s *Set) ConvertToHashtable() {
	if s.ht == nil {
		s.convert(len(s.is))
	}
}

func (s *Set) convert(hint int) {
	t := newStrTable[struct{}](hint)
	var buf [24]byte
	for _, v := range s.is {
		t.insert(b2s(strconv.AppendInt(buf[:0], v, 10)))
	}
	s.ht = t
	s.is = nil
}

// Each calls fn for every member (ascending numeric order for intsets)
// until fn returns false. fn must not modify the set.
func (s *Set) Each(fn func(member []byte) bool) {
	if s.ht != nil {
		s.ht.each(func(nd *htNode[struct{}]) bool { return fn(s2b(nd.key)) })
		return
	}
	var buf [24]byte
	for _, v := range s.is {
		if !fn(strconv.AppendInt(buf[:0], v, 10)) {
			return
		}
	}
}

// Members returns a copy of every member as strings.
func (s *Set) Members() []string {
	out := make([]string, 0, s.Len())
	s.Each(func(m []byte) bool { out = append(out, string(m)); return true })
	return out
}

// Random returns a random member (the set must not be empty).
func (s *Set) Random(rnd func(n uint64) uint64) []byte {
	if s.ht != nil {
		return s2b(s.ht.random(rnd).key)
	}
	return strconv.AppendInt(nil, s.is[rnd(uint64(len(s.is)))], 10)
}

// Scan visits the bucket(s) addressed by cursor and returns the next cursor
// (0 when done). An intset is visited whole in one call, as Redis does.
func (s *Set) Scan(cursor uint64, fn func(member []byte)) uint64 {
	if s.ht == nil {
		s.Each(func(m []byte) bool { fn(m); return true })
		return 0
	}
	return s.ht.scan(cursor, func(nd *htNode[struct{}]) { fn(s2b(nd.key)) })
}
