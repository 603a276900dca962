package commands

import (
	"math"
	"sort"
	"strconv"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// Set commands (Redis's t_set.c).

func init() {
	Register(
		&Command{Name: "sadd", Arity: -3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: saddCommand, Group: "set", Since: "1.0.0", Summary: "Add one or more members to a set", Categories: "@write @set @fast"},
		&Command{Name: "srem", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: sremCommand, Group: "set", Since: "1.0.0", Summary: "Remove one or more members from a set", Categories: "@write @set @fast"},
		&Command{Name: "smove", Arity: 4, Flags: Write | Fast, FirstKey: 1, LastKey: 2, Proc: smoveCommand, Group: "set", Since: "1.0.0", Summary: "Move a member from one set to another", Categories: "@write @set @fast"},
		&Command{Name: "sismember", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: sismemberCommand, Group: "set", Since: "1.0.0", Summary: "Determine if a given value is a member of a set", Categories: "@read @set @fast"},
		&Command{Name: "smismember", Arity: -3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: smismemberCommand, Group: "set", Since: "6.2.0", Summary: "Returns the membership associated with the given elements for a set", Categories: "@read @set @fast"},
		&Command{Name: "scard", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: scardCommand, Group: "set", Since: "1.0.0", Summary: "Get the number of members in a set", Categories: "@read @set @fast"},
		&Command{Name: "spop", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: spopCommand, Group: "set", Since: "1.0.0", Summary: "Remove and return one or multiple random members from a set", Categories: "@write @set @fast"},
		&Command{Name: "srandmember", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: srandmemberCommand, Group: "set", Since: "1.0.0", Summary: "Get one or multiple random members from a set", Categories: "@read @set @slow"},
		&Command{Name: "sinter", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: -1, Proc: sinterCommand, Group: "set", Since: "1.0.0", Summary: "Intersect multiple sets", Categories: "@read @set @slow"},
		&Command{Name: "sintercard", Arity: -3, Flags: ReadOnly, Keys: setIntercardKeys, Proc: sintercardCommand, Group: "set", Since: "7.0.0", Summary: "Intersect multiple sets and return the cardinality of the result", Categories: "@read @set @slow"},
		&Command{Name: "sinterstore", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Proc: sinterstoreCommand, Group: "set", Since: "1.0.0", Summary: "Intersect multiple sets and store the resulting set in a key", Categories: "@write @set @slow"},
		&Command{Name: "sunion", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: -1, Proc: sunionCommand, Group: "set", Since: "1.0.0", Summary: "Add multiple sets", Categories: "@read @set @slow"},
		&Command{Name: "sunionstore", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Proc: sunionstoreCommand, Group: "set", Since: "1.0.0", Summary: "Add multiple sets and store the resulting set in a key", Categories: "@write @set @slow"},
		&Command{Name: "sdiff", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: -1, Proc: sdiffCommand, Group: "set", Since: "1.0.0", Summary: "Subtract multiple sets", Categories: "@read @set @slow"},
		&Command{Name: "sdiffstore", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Proc: sdiffstoreCommand, Group: "set", Since: "1.0.0", Summary: "Subtract multiple sets and store the resulting set in a key", Categories: "@write @set @slow"},
		&Command{Name: "smembers", Arity: 2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: sinterCommand, Group: "set", Since: "1.0.0", Summary: "Get all the members in a set", Categories: "@read @set @slow"},
		&Command{Name: "sscan", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: sscanCommand, Group: "set", Since: "2.8.0", Summary: "Incrementally iterate Set elements", Categories: "@read @set @slow"},
	)
}

// setIntercardKeys returns SINTERCARD's key positions (numkeys key ...).
func setIntercardKeys(args [][]byte) []int {
	if len(args) < 2 {
		return nil
	}
	n, ok := ParseInt(args[1])
	if !ok || n < 1 || n > int64(len(args)-2) {
		return nil
	}
	out := make([]int, 0, n)
	for i := 0; i < int(n); i++ {
		out = append(out, 2+i)
	}
	return out
}

func setMaxIntset(c *Ctx) int {
	if c.Srv != nil {
		return int(c.Srv.Setting("set-max-intset-entries"))
	}
	return keyspace.DefaultSetMaxIntsetEntries
}

// setLookupRead returns the set at key (nil when missing), writing
// WRONGTYPE and returning ok=false on a type mismatch.
func setLookupRead(c *Ctx, key []byte) (*keyspace.Set, bool) {
	return lookupRead[*keyspace.Set](c, key, keyspace.TypeSet)
}

// setLookupWrite is setLookupRead for a set about to be modified in place.
func setLookupWrite(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.Set, bool) {
	return lookupWrite[*keyspace.Set](c, key, keyspace.TypeSet)
}

func saddCommand(c *Ctx) {
	key := c.Args[1]
	e, s, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		s = keyspace.NewSet()
		e = keyspace.NewEntry(string(key), keyspace.TypeSet, s)
		c.DB.Add(e)
	}
	max := setMaxIntset(c)
	added := 0
	for _, m := range c.Args[2:] {
		if s.AddLimit(m, max) {
			added++
		}
	}
	if added > 0 {
		c.DB.Touch(e)
		c.Modified(key)
		c.Dirty += added - 1
		c.Notify(NotifySet, "sadd", key)
	}
	c.W.Int(int64(added))
}

func sremCommand(c *Ctx) {
	key := c.Args[1]
	e, s, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	deleted := 0
	removed := false
	for _, m := range c.Args[2:] {
		if s.Remove(m) {
			deleted++
			if s.Len() == 0 {
				c.DB.Delete(string(key))
				removed = true
				break
			}
		}
	}
	if deleted > 0 {
		if !removed {
			c.DB.Touch(e)
		}
		c.Modified(key)
		c.Dirty += deleted - 1
		c.Notify(NotifySet, "srem", key)
		if removed {
			c.Notify(NotifyGeneric, "del", key)
		}
	}
	c.W.Int(int64(deleted))
}

func smoveCommand(c *Ctx) {
	srcKey, dstKey, ele := c.Args[1], c.Args[2], c.Args[3]
	src := c.DB.LookupWrite(string(srcKey))
	dst := c.DB.LookupWrite(string(dstKey))
	if src == nil {
		c.W.Int(0)
		return
	}
	if src.Type != keyspace.TypeSet || (dst != nil && dst.Type != keyspace.TypeSet) {
		c.W.Error(ErrWrongType)
		return
	}
	srcSet := src.Coll.(*keyspace.Set)
	if src == dst {
		if srcSet.Has(ele) {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
		return
	}
	if !srcSet.Remove(ele) {
		c.W.Int(0)
		return
	}
	c.Notify(NotifySet, "srem", srcKey)
	if srcSet.Len() == 0 {
		c.DB.Delete(string(srcKey))
		c.Notify(NotifyGeneric, "del", srcKey)
	} else {
		c.DB.Touch(src)
	}
	var dstSet *keyspace.Set
	if dst == nil {
		dstSet = keyspace.NewSet()
		dst = keyspace.NewEntry(string(dstKey), keyspace.TypeSet, dstSet)
		c.DB.Add(dst)
	} else {
		dstSet = dst.Coll.(*keyspace.Set)
	}
	c.Modified(srcKey)
	if dstSet.AddLimit(ele, setMaxIntset(c)) {
		c.DB.Touch(dst)
		c.Modified(dstKey)
		c.Notify(NotifySet, "sadd", dstKey)
	}
	c.W.Int(1)
}

func sismemberCommand(c *Ctx) {
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if s != nil && s.Has(c.Args[2]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

func smismemberCommand(c *Ctx) {
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	c.W.ArrayLen(len(c.Args) - 2)
	for _, m := range c.Args[2:] {
		if s != nil && s.Has(m) {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
	}
}

func scardCommand(c *Ctx) {
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(s.Len()))
}

func spopCommand(c *Ctx) {
	if len(c.Args) == 3 {
		spopWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.W.Error(ErrSyntax)
		return
	}
	key := c.Args[1]
	e, s, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Null()
		return
	}
	m := append([]byte(nil), s.Random(c.KS.Rnd.Uint64N)...)
	s.Remove(m)
	c.Notify(NotifySet, "spop", key)
	c.AddPropagate([]byte("SREM"), key, m)
	c.W.Bulk(m)
	if s.Len() == 0 {
		c.DB.Delete(string(key))
		c.Notify(NotifyGeneric, "del", key)
	} else {
		c.DB.Touch(e)
	}
	c.Modified(key)
}

func spopWithCount(c *Ctx) {
	l, ok := ParseInt(c.Args[2])
	if !ok || l < 0 {
		c.W.Error(ErrNotPositive)
		return
	}
	count := uint64(l)
	key := c.Args[1]
	e, s, ok := setLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil || count == 0 {
		c.W.SetLen(0)
		return
	}
	size := uint64(s.Len())
	c.Notify(NotifySet, "spop", key)
	if count >= size {
		// The whole set: reply like SMEMBERS of a fresh copy, delete the key
		// and propagate DEL.
		tmp := keyspace.NewSet()
		max := setMaxIntset(c)
		s.Each(func(m []byte) bool { tmp.AddLimit(m, max); return true })
		c.W.SetLen(tmp.Len())
		tmp.Each(func(m []byte) bool { c.W.Bulk(m); return true })
		c.DB.Delete(string(key))
		c.Notify(NotifyGeneric, "del", key)
		c.AddPropagate([]byte("DEL"), key)
		c.Modified(key)
		c.Dirty += int(size) - 1
		return
	}
	c.W.SetLen(int(count))
	remaining := size - count
	if remaining*5 > count {
		for n := count; n > 0; n-- {
			m := append([]byte(nil), s.Random(c.KS.Rnd.Uint64N)...)
			s.Remove(m)
			c.W.Bulk(m)
			c.AddPropagate([]byte("SREM"), key, m)
		}
	} else {
		// Move the members that stay into a new set, return the rest.
		ns := keyspace.NewSet()
		max := setMaxIntset(c)
		for n := remaining; n > 0; n-- {
			m := append([]byte(nil), s.Random(c.KS.Rnd.Uint64N)...)
			ns.AddLimit(m, max)
			s.Remove(m)
		}
		s.Each(func(m []byte) bool {
			c.W.Bulk(m)
			c.AddPropagate([]byte("SREM"), key, append([]byte(nil), m...))
			return true
		})
		e.Coll = ns
	}
	c.DB.Touch(e)
	c.Modified(key)
	c.Dirty += int(count) - 1
}

func srandmemberCommand(c *Ctx) {
	if len(c.Args) == 3 {
		srandmemberWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.W.Error(ErrSyntax)
		return
	}
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if s == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(s.Random(c.KS.Rnd.Uint64N))
}

func srandmemberWithCount(c *Ctx) {
	l, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if l < -math.MaxInt64 {
		c.W.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	uniq := true
	var count uint64
	if l >= 0 {
		count = uint64(l)
	} else {
		count = uint64(-l)
		uniq = false
	}
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if s == nil || count == 0 {
		c.W.ArrayLen(0)
		return
	}
	size := uint64(s.Len())
	if !uniq || count == 1 {
		c.W.ArrayLen(int(count))
		for ; count > 0; count-- {
			c.W.Bulk(s.Random(c.KS.Rnd.Uint64N))
		}
		return
	}
	if count >= size {
		c.W.ArrayLen(int(size))
		s.Each(func(m []byte) bool { c.W.Bulk(m); return true })
		return
	}
	picked := make(map[string]struct{}, count)
	if count*3 > size {
		drop := size - count
		for uint64(len(picked)) < drop {
			picked[string(s.Random(c.KS.Rnd.Uint64N))] = struct{}{}
		}
		c.W.ArrayLen(int(count))
		s.Each(func(m []byte) bool {
			if _, skip := picked[string(m)]; !skip {
				c.W.Bulk(m)
			}
			return true
		})
		return
	}
	order := make([]string, 0, count)
	for uint64(len(order)) < count {
		m := string(s.Random(c.KS.Rnd.Uint64N))
		if _, dup := picked[m]; dup {
			continue
		}
		picked[m] = struct{}{}
		order = append(order, m)
	}
	c.W.ArrayLen(int(count))
	for _, m := range order {
		c.W.BulkString(m)
	}
}

// setStoreResult stores result at dst (deleting dst when result is empty)
// and replies with its cardinality, as the *STORE commands do.
func setStoreResult(c *Ctx, dst []byte, result *keyspace.Set, event string) {
	if result.Len() > 0 {
		c.DB.Set(keyspace.NewEntry(string(dst), keyspace.TypeSet, result), false)
		c.W.Int(int64(result.Len()))
		c.Modified(dst)
		c.Notify(NotifySet, event, dst)
		return
	}
	c.W.Int(0)
	if c.DB.Delete(string(dst)) {
		c.Modified(dst)
		c.Notify(NotifyGeneric, "del", dst)
	}
}

// setLookupAll looks up every key for reading; missing keys are nil. It
// writes WRONGTYPE and returns ok=false if any key holds another type.
func setLookupAll(c *Ctx, keys [][]byte) ([]*keyspace.Set, int, bool) {
	sets := make([]*keyspace.Set, len(keys))
	missing := 0
	for i, k := range keys {
		s, ok := setLookupRead(c, k)
		if !ok {
			return nil, 0, false
		}
		if s == nil {
			missing++
		}
		sets[i] = s
	}
	return sets, missing, true
}

// setInter implements SINTER, SMEMBERS, SINTERSTORE and SINTERCARD.
func setInter(c *Ctx, keys [][]byte, dst []byte, cardOnly bool, limit int64) {
	sets, missing, ok := setLookupAll(c, keys)
	if !ok {
		return
	}
	if missing > 0 {
		switch {
		case dst != nil:
			if c.DB.Delete(string(dst)) {
				c.Modified(dst)
				c.Notify(NotifyGeneric, "del", dst)
			}
			c.W.Int(0)
		case cardOnly:
			c.W.Int(0)
		default:
			c.W.SetLen(0)
		}
		return
	}
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].Len() < sets[j].Len() })
	var result *keyspace.Set
	var out [][]byte
	max := 0
	if dst != nil {
		result = keyspace.NewSet()
		max = setMaxIntset(c)
	}
	card := int64(0)
	sets[0].Each(func(m []byte) bool {
		for _, o := range sets[1:] {
			if o == sets[0] {
				continue
			}
			if !o.Has(m) {
				return true
			}
		}
		card++
		switch {
		case cardOnly:
			if limit > 0 && card >= limit {
				return false
			}
		case dst != nil:
			result.AddLimit(m, max)
		default:
			out = append(out, append([]byte(nil), m...))
		}
		return true
	})
	switch {
	case cardOnly:
		c.W.Int(card)
	case dst != nil:
		setStoreResult(c, dst, result, "sinterstore")
	default:
		c.W.SetLen(len(out))
		for _, m := range out {
			c.W.Bulk(m)
		}
	}
}

func sinterCommand(c *Ctx)      { setInter(c, c.Args[1:], nil, false, 0) }
func sinterstoreCommand(c *Ctx) { setInter(c, c.Args[2:], c.Args[1], false, 0) }

func sintercardCommand(c *Ctx) {
	numkeys, ok := ParseInt(c.Args[1])
	if !ok || numkeys < 1 {
		c.W.Error("ERR numkeys should be greater than 0")
		return
	}
	if numkeys > int64(len(c.Args)-2) {
		c.W.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	var limit int64
	for j := 2 + int(numkeys); j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		if EqualFold(c.Args[j], "limit") && more > 0 {
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.W.Error("ERR LIMIT can't be negative")
				return
			}
			limit = v
		} else {
			c.W.Error(ErrSyntax)
			return
		}
	}
	setInter(c, c.Args[2:2+numkeys], nil, true, limit)
}

const (
	setOpUnion = iota
	setOpDiff
)

// setUnionDiff implements SUNION, SDIFF and their STORE forms.
func setUnionDiff(c *Ctx, keys [][]byte, dst []byte, op int) {
	sets, _, ok := setLookupAll(c, keys)
	if !ok {
		return
	}
	algo := 1
	if op == setOpDiff && sets[0] != nil {
		var one, two int64
		for _, s := range sets {
			if s == nil {
				continue
			}
			one += int64(sets[0].Len())
			two += int64(s.Len())
		}
		one /= 2
		if one > two {
			algo = 2
		}
	}
	max := setMaxIntset(c)
	result := keyspace.NewSet()
	switch {
	case op == setOpUnion:
		for _, s := range sets {
			if s == nil {
				continue
			}
			s.Each(func(m []byte) bool { result.AddLimit(m, max); return true })
		}
	case sets[0] != nil && algo == 1:
		sets[0].Each(func(m []byte) bool {
			for _, o := range sets[1:] {
				if o == nil {
					continue
				}
				if o == sets[0] || o.Has(m) {
					return true
				}
			}
			result.AddLimit(m, max)
			return true
		})
	case sets[0] != nil:
		for j, s := range sets {
			if s == nil {
				continue
			}
			s.Each(func(m []byte) bool {
				if j == 0 {
					result.AddLimit(m, max)
				} else {
					result.Remove(m)
				}
				return true
			})
			if result.Len() == 0 {
				break
			}
		}
	}
	if dst == nil {
		c.W.SetLen(result.Len())
		result.Each(func(m []byte) bool { c.W.Bulk(m); return true })
		return
	}
	ev := "sunionstore"
	if op == setOpDiff {
		ev = "sdiffstore"
	}
	setStoreResult(c, dst, result, ev)
}

func sunionCommand(c *Ctx)      { setUnionDiff(c, c.Args[1:], nil, setOpUnion) }
func sunionstoreCommand(c *Ctx) { setUnionDiff(c, c.Args[2:], c.Args[1], setOpUnion) }
func sdiffCommand(c *Ctx)       { setUnionDiff(c, c.Args[1:], nil, setOpDiff) }
func sdiffstoreCommand(c *Ctx)  { setUnionDiff(c, c.Args[2:], c.Args[1], setOpDiff) }

func sscanCommand(c *Ctx) {
	cursor, ok := ParseScanCursor(c, c.Args[2])
	if !ok {
		return
	}
	s, ok := setLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if s == nil {
		c.W.ArrayLen(2)
		c.W.BulkString("0")
		c.W.ArrayLen(0)
		return
	}
	o, ok := ParseScanOptions(c, c.Args[3:], false)
	if !ok {
		return
	}
	var items [][]byte
	collect := func(m []byte) {
		if o.Match == nil || Match(o.Match, m, false) {
			items = append(items, append([]byte(nil), m...))
		}
	}
	if s.IsIntset() {
		cursor = s.Scan(0, collect)
	} else {
		maxIter := o.Count * 10
		seen := 0
		for {
			cursor = s.Scan(cursor, func(m []byte) { seen++; collect(m) })
			maxIter--
			if cursor == 0 || maxIter <= 0 || int64(seen) >= o.Count {
				break
			}
		}
	}
	c.W.ArrayLen(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.ArrayLen(len(items))
	for _, m := range items {
		c.W.Bulk(m)
	}
}
