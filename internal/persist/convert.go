package persist

import (
	"fmt"
	"unsafe"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/rdb"
)

// Conversion between keyspace values and the neutral RDB codec values.

// ToRDBValue converts a value for encoding. The entry must not be modified
// concurrently (a snapshot entry or the lock held).
func ToRDBValue(e *keyspace.Entry) (rdb.Value, error) {
	switch e.Type {
	case keyspace.TypeString:
		return rdb.Value{Type: rdb.TypeString, Str: e.Str}, nil
	case keyspace.TypeList:
		l := e.Coll.(*keyspace.List)
		v := rdb.Value{Type: rdb.TypeList, List: make([][]byte, 0, l.Len())}
		l.Each(func(x []byte) bool { v.List = append(v.List, x); return true })
		return v, nil
	case keyspace.TypeSet:
		s := e.Coll.(*keyspace.Set)
		v := rdb.Value{Type: rdb.TypeSet, Set: make([][]byte, 0, s.Len())}
		// An intset formats its members into one reused buffer: copy them
		// (hashtable members are stable and shared as is).
		cp := s.IsIntset()
		s.Each(func(x []byte) bool {
			if cp {
				x = append([]byte(nil), x...)
			}
			v.Set = append(v.Set, x)
			return true
		})
		return v, nil
	case keyspace.TypeZSet:
		z := e.Coll.(*keyspace.ZSet)
		v := rdb.Value{Type: rdb.TypeZSet, ZSet: make([]rdb.ZMember, 0, z.Len())}
		z.Each(func(m []byte, score float64) bool {
			v.ZSet = append(v.ZSet, rdb.ZMember{Member: m, Score: score})
			return true
		})
		return v, nil
	case keyspace.TypeHash:
		h := e.Coll.(*keyspace.Hash)
		v := rdb.Value{Type: rdb.TypeHash, Hash: make([]rdb.HashField, 0, h.Len())}
		h.Each(func(f, val []byte) bool {
			v.Hash = append(v.Hash, rdb.HashField{Field: f, Value: val})
			return true
		})
		return v, nil
	}
	return rdb.Value{}, fmt.Errorf("persist: cannot encode type %s", e.Type.Name())
}

// FromRDBValue builds a detached keyspace entry from a decoded value,
// copying the bytes (the decoder reuses its buffers).
func FromRDBValue(key string, v *rdb.Value) (*keyspace.Entry, error) {
	cp := func(b []byte) []byte { return append([]byte(nil), b...) }
	switch v.Type {
	case rdb.TypeString:
		return keyspace.NewStringEntry(key, cp(v.Str)), nil
	case rdb.TypeList:
		l := keyspace.NewList()
		for _, x := range v.List {
			l.PushBack(cp(x))
		}
		return keyspace.NewEntry(key, keyspace.TypeList, l), nil
	case rdb.TypeSet:
		s := keyspace.NewSet()
		for _, x := range v.Set {
			s.Add(cp(x))
		}
		return keyspace.NewEntry(key, keyspace.TypeSet, s), nil
	case rdb.TypeZSet:
		z := keyspace.NewZSet()
		for _, m := range v.ZSet {
			z.Add(cp(m.Member), m.Score)
		}
		return keyspace.NewEntry(key, keyspace.TypeZSet, z), nil
	case rdb.TypeHash:
		h := keyspace.NewHash()
		for _, f := range v.Hash {
			h.Set(cp(f.Field), cp(f.Value))
		}
		return keyspace.NewEntry(key, keyspace.TypeHash, h), nil
	}
	return nil, fmt.Errorf("unsupported value type %v", v.Type)
}

// loadedString builds a string entry from a decoded key and value (views
// into the decoder's buffers) with one allocation holding both: the key
// string points at its first bytes, Str at the rest (capacity capped, so
// an APPEND reallocates instead of writing past the value).
func loadedString(key, val []byte) *keyspace.Entry {
	buf := make([]byte, len(key)+len(val))
	copy(buf, key)
	copy(buf[len(key):], val)
	k := unsafe.String(unsafe.SliceData(buf), len(key))
	var s []byte
	if len(val) > 0 {
		s = buf[len(key):len(buf):len(buf)]
	}
	return keyspace.NewStringEntry(k, s)
}

// fromLoadedValue is FromRDBValue for a value whose slices the decoder
// reuses (sets, sorted sets and hashes copy what they store; list
// elements are copied here). Collections are built directly in their
// final encoding (the decoder has rejected duplicates).
func fromLoadedValue(key string, v *rdb.Value) (*keyspace.Entry, error) {
	switch v.Type {
	case rdb.TypeSet:
		s := keyspace.NewLoadedSet(len(v.Set), func(i int) []byte { return v.Set[i] })
		return keyspace.NewEntry(key, keyspace.TypeSet, s), nil
	case rdb.TypeZSet:
		z := keyspace.NewZSet()
		big := len(v.ZSet) > z.MaxCompactEntries
		for i := 0; !big && i < len(v.ZSet); i++ {
			big = len(v.ZSet[i].Member) > z.MaxCompactValue
		}
		if big {
			z = keyspace.NewZSetSkiplist()
		}
		for _, m := range v.ZSet {
			z.Add(m.Member, m.Score)
		}
		return keyspace.NewEntry(key, keyspace.TypeZSet, z), nil
	case rdb.TypeHash:
		if v.Listpack != nil {
			// The decoder hands the blob over: it becomes the hash's
			// listpack as is.
			h := keyspace.NewHashFromListpack(v.Listpack, v.ListpackMaxLen)
			return keyspace.NewEntry(key, keyspace.TypeHash, h), nil
		}
		h := keyspace.NewLoadedHash(len(v.Hash), func(i int) ([]byte, []byte) { return v.Hash[i].Field, v.Hash[i].Value })
		return keyspace.NewEntry(key, keyspace.TypeHash, h), nil
	}
	return FromRDBValue(key, v)
}
