package commands

import (
	"math"
	"math/big"
	"strconv"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// Hash commands (Redis's t_hash.c).

func init() {
	Register(
		&Command{Name: "hset", Arity: -4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: hsetCommand, Group: "hash", Since: "2.0.0", Summary: "Set the string value of a hash field", Categories: "@write @hash @fast"},
		&Command{Name: "hmset", Arity: -4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: hsetCommand, Group: "hash", Since: "2.0.0", Summary: "Set multiple hash fields to multiple values", Categories: "@write @hash @fast"},
		&Command{Name: "hsetnx", Arity: 4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: hsetnxCommand, Group: "hash", Since: "2.0.0", Summary: "Set the value of a hash field, only if the field does not exist", Categories: "@write @hash @fast"},
		&Command{Name: "hget", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: hgetCommand, Group: "hash", Since: "2.0.0", Summary: "Get the value of a hash field", Categories: "@read @hash @fast"},
		&Command{Name: "hmget", Arity: -3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: hmgetCommand, Group: "hash", Since: "2.0.0", Summary: "Get the values of all the given hash fields", Categories: "@read @hash @fast"},
		&Command{Name: "hdel", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: hdelCommand, Group: "hash", Since: "2.0.0", Summary: "Delete one or more hash fields", Categories: "@write @hash @fast"},
		&Command{Name: "hlen", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: hlenCommand, Group: "hash", Since: "2.0.0", Summary: "Get the number of fields in a hash", Categories: "@read @hash @fast"},
		&Command{Name: "hstrlen", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: hstrlenCommand, Group: "hash", Since: "3.2.0", Summary: "Get the length of the value of a hash field", Categories: "@read @hash @fast"},
		&Command{Name: "hexists", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: hexistsCommand, Group: "hash", Since: "2.0.0", Summary: "Determine if a hash field exists", Categories: "@read @hash @fast"},
		&Command{Name: "hkeys", Arity: 2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: hkeysCommand, Group: "hash", Since: "2.0.0", Summary: "Get all the fields in a hash", Categories: "@read @hash @slow"},
		&Command{Name: "hvals", Arity: 2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: hvalsCommand, Group: "hash", Since: "2.0.0", Summary: "Get all the values in a hash", Categories: "@read @hash @slow"},
		&Command{Name: "hgetall", Arity: 2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: hgetallCommand, Group: "hash", Since: "2.0.0", Summary: "Get all the fields and values in a hash", Categories: "@read @hash @slow"},
		&Command{Name: "hincrby", Arity: 4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: hincrbyCommand, Group: "hash", Since: "2.0.0", Summary: "Increment the integer value of a hash field by the given number", Categories: "@write @hash @fast"},
		&Command{Name: "hincrbyfloat", Arity: 4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: hincrbyfloatCommand, Group: "hash", Since: "2.6.0", Summary: "Increment the float value of a hash field by the given amount", Categories: "@write @hash @fast"},
		&Command{Name: "hrandfield", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: hrandfieldCommand, Group: "hash", Since: "6.2.0", Summary: "Get one or multiple random fields from a hash", Categories: "@read @hash @slow"},
		&Command{Name: "hscan", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: hscanCommand, Group: "hash", Since: "2.8.0", Summary: "Incrementally iterate hash fields and associated values", Categories: "@read @hash @slow"},
	)
}

// hashLimits returns hash-max-listpack-entries and hash-max-listpack-value.
func hashLimits(c *Ctx) (int, int) {
	maxE, maxV := keyspace.DefaultHashMaxListpackEntries, keyspace.DefaultHashMaxListpackValue
	if c.Srv != nil {
		maxE = int(c.Srv.Setting("hash-max-listpack-entries"))
		maxV = int(c.Srv.Setting("hash-max-listpack-value"))
	}
	return maxE, maxV
}

// hashLookupRead returns the hash at key (nil when missing); on a type
// mismatch it writes WRONGTYPE and returns ok=false.
func hashLookupRead(c *Ctx, key []byte) (*keyspace.Hash, bool) {
	return lookupRead[*keyspace.Hash](c, key, keyspace.TypeHash)
}

// hashLookupWrite is hashLookupRead for a hash about to be modified in place.
func hashLookupWrite(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.Hash, bool) {
	return lookupWrite[*keyspace.Hash](c, key, keyspace.TypeHash)
}

// hashCreate adds an empty hash at key.
func hashCreate(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.Hash) {
	h := keyspace.NewHash()
	e := keyspace.NewEntry(string(key), keyspace.TypeHash, h)
	c.DB.Add(e)
	return e, h
}

func hsetCommand(c *Ctx) {
	if len(c.Args)%2 == 1 {
		c.W.Error(WrongArity(c.Cmd.Name))
		return
	}
	key := c.Args[1]
	e, h, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		e, h = hashCreate(c, key)
	}
	maxE, maxV := hashLimits(c)
	if h.IsCompact() {
		// hashTypeTryConversion: any long argument converts up front.
		for _, a := range c.Args[2:] {
			if len(a) > maxV {
				h.ConvertToHashtable()
				break
			}
		}
	}
	if h.IsCompact() {
		need := 0
		for _, a := range c.Args[2:] {
			need += len(a) + 2 // listpack entry: encoding byte, data, back length
		}
		h.Reserve(need)
	}
	created := int64(0)
	for i := 2; i < len(c.Args); i += 2 {
		if h.SetLimits(c.Args[i], c.Args[i+1], maxE, maxV) {
			created++
		}
	}
	c.DB.Touch(e)
	if c.Cmd.Name == "hmset" {
		c.W.OK()
	} else {
		c.W.Int(created)
	}
	c.Modified(key)
	c.Dirty += (len(c.Args)-2)/2 - 1
	c.Notify(NotifyHash, "hset", key)
}

func hsetnxCommand(c *Ctx) {
	key := c.Args[1]
	e, h, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	if h != nil && h.Has(c.Args[2]) {
		c.W.Int(0)
		return
	}
	if e == nil {
		e, h = hashCreate(c, key)
	}
	maxE, maxV := hashLimits(c)
	h.SetLimits(c.Args[2], c.Args[3], maxE, maxV)
	c.DB.Touch(e)
	c.W.Int(1)
	c.Modified(key)
	c.Notify(NotifyHash, "hset", key)
}

func hgetCommand(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	v, found := h.Get(c.Args[2])
	if !found {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
}

func hmgetCommand(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	c.W.ArrayLen(len(c.Args) - 2)
	for _, f := range c.Args[2:] {
		if h == nil {
			c.W.Null()
			continue
		}
		if v, found := h.Get(f); found {
			c.W.Bulk(v)
		} else {
			c.W.Null()
		}
	}
}

func hdelCommand(c *Ctx) {
	key := c.Args[1]
	e, h, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	deleted := 0
	removed := false
	for _, f := range c.Args[2:] {
		if h.Delete(f) {
			deleted++
			if h.Len() == 0 {
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
		c.Notify(NotifyHash, "hdel", key)
		if removed {
			c.Notify(NotifyGeneric, "del", key)
		}
	}
	c.W.Int(int64(deleted))
}

func hlenCommand(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(h.Len()))
}

func hstrlenCommand(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	v, _ := h.Get(c.Args[2])
	c.W.Int(int64(len(v)))
}

func hexistsCommand(c *Ctx) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h != nil && h.Has(c.Args[2]) {
		c.W.Int(1)
	} else {
		c.W.Int(0)
	}
}

const (
	hashWantKeys = 1 << iota
	hashWantVals
)

func hashGetAll(c *Ctx, what int) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	both := what == hashWantKeys|hashWantVals
	n := 0
	if h != nil {
		n = h.Len()
	}
	if both {
		c.W.MapLen(n)
	} else {
		c.W.ArrayLen(n)
	}
	if h == nil {
		return
	}
	h.Each(func(f, v []byte) bool {
		if what&hashWantKeys != 0 {
			c.W.Bulk(f)
		}
		if what&hashWantVals != 0 {
			c.W.Bulk(v)
		}
		return true
	})
}

func hkeysCommand(c *Ctx)   { hashGetAll(c, hashWantKeys) }
func hvalsCommand(c *Ctx)   { hashGetAll(c, hashWantVals) }
func hgetallCommand(c *Ctx) { hashGetAll(c, hashWantKeys|hashWantVals) }

func hincrbyCommand(c *Ctx) {
	incr, ok := ParseInt(c.Args[3])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	key, field := c.Args[1], c.Args[2]
	e, h, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	var cur int64
	if h != nil {
		if v, found := h.Get(field); found {
			cur, ok = ParseInt(v)
			if !ok {
				c.W.Error("ERR hash value is not an integer")
				return
			}
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) ||
		(incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		c.W.Error(ErrOverflow)
		return
	}
	nv := cur + incr
	if e == nil {
		e, h = hashCreate(c, key)
	}
	maxE, maxV := hashLimits(c)
	h.SetLimits(field, strconv.AppendInt(nil, nv, 10), maxE, maxV)
	c.DB.Touch(e)
	c.W.Int(nv)
	c.Modified(key)
	c.Notify(NotifyHash, "hincrby", key)
}

func hincrbyfloatCommand(c *Ctx) {
	incr, inf, ok := ParseLongDoubleExact(c.Args[3])
	if !ok {
		c.W.Error(ErrNotFloat)
		return
	}
	if inf != 0 {
		c.W.Error("ERR value is NaN or Infinity")
		return
	}
	key, field := c.Args[1], c.Args[2]
	e, h, ok := hashLookupWrite(c, key)
	if !ok {
		return
	}
	cur := new(big.Float).SetPrec(ldPrec)
	if h != nil {
		if v, found := h.Get(field); found {
			f, vinf, ok := ParseLongDoubleExact(v)
			if !ok {
				c.W.Error("ERR hash value is not a float")
				return
			}
			if vinf != 0 {
				c.W.Error(ErrNaN)
				return
			}
			cur = f
		}
	}
	sum := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(cur, incr)
	if new(big.Float).Abs(sum).Cmp(maxLongDouble) > 0 {
		c.W.Error(ErrNaN)
		return
	}
	s := []byte(FormatLongDoubleExact(sum))
	if e == nil {
		e, h = hashCreate(c, key)
	}
	maxE, maxV := hashLimits(c)
	h.SetLimits(field, s, maxE, maxV)
	c.DB.Touch(e)
	c.W.Bulk(s)
	c.Modified(key)
	c.Notify(NotifyHash, "hincrbyfloat", key)
	// Always propagated as HSET with the final value so float formatting
	// can't make replicas diverge.
	c.AddPropagate([]byte("HSET"), key, field, s)
}

func hrandfieldCommand(c *Ctx) {
	if len(c.Args) >= 3 {
		l, ok := ParseInt(c.Args[2])
		if !ok {
			c.W.Error(ErrNotInt)
			return
		}
		if l < -math.MaxInt64 {
			c.W.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
			return
		}
		withValues := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !EqualFold(c.Args[3], "withvalues")) {
			c.W.Error(ErrSyntax)
			return
		} else if len(c.Args) == 4 {
			withValues = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.W.Error("ERR value is out of range")
				return
			}
		}
		hrandfieldWithCount(c, l, withValues)
		return
	}
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	f, _ := h.Random(c.KS.Rnd.Uint64N)
	c.W.Bulk(f)
}

func hrandfieldWithCount(c *Ctx, l int64, withValues bool) {
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
		c.W.ArrayLen(0)
		return
	}
	size := uint64(h.Len())
	uniq := true
	var count uint64
	if l >= 0 {
		count = uint64(l)
	} else {
		count = uint64(-l)
		uniq = false
	}
	if count == 0 {
		c.W.ArrayLen(0)
		return
	}
	resp3 := c.W.Proto >= 3
	pair := func(f, v []byte) {
		if withValues && resp3 {
			c.W.ArrayLen(2)
		}
		c.W.Bulk(f)
		if withValues {
			c.W.Bulk(v)
		}
	}
	header := func(n uint64) {
		if withValues && !resp3 {
			c.W.ArrayLen(int(n * 2))
		} else {
			c.W.ArrayLen(int(n))
		}
	}
	// CASE 1: negative count (repetitions allowed) or a single element.
	if !uniq || count == 1 {
		header(count)
		h.RandomN(count, c.KS.Rnd.Uint64N, pair)
		return
	}
	// CASE 2: the whole hash, in its order.
	if count >= size {
		header(size)
		h.Each(func(f, v []byte) bool { pair(f, v); return true })
		return
	}
	// CASE 3/4: count distinct random fields.
	picked := make(map[string]struct{}, count)
	var order [][2][]byte
	if count*3 > size {
		// Pick the fields to drop, return the rest in hash order.
		drop := size - count
		for uint64(len(picked)) < drop {
			f, _ := h.Random(c.KS.Rnd.Uint64N)
			picked[string(f)] = struct{}{}
		}
		header(count)
		h.Each(func(f, v []byte) bool {
			if _, skip := picked[string(f)]; !skip {
				pair(f, v)
			}
			return true
		})
		return
	}
	for uint64(len(order)) < count {
		f, v := h.Random(c.KS.Rnd.Uint64N)
		if _, dup := picked[string(f)]; dup {
			continue
		}
		picked[string(f)] = struct{}{}
		order = append(order, [2][]byte{f, v})
	}
	header(count)
	for _, p := range order {
		pair(p[0], p[1])
	}
}

func hscanCommand(c *Ctx) {
	cursor, ok := ParseScanCursor(c, c.Args[2])
	if !ok {
		return
	}
	h, ok := hashLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if h == nil {
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
	if h.IsCompact() {
		cursor = h.Scan(0, func(f, v []byte) { items = append(items, f, v) })
	} else {
		maxIter := o.Count * 10
		for {
			cursor = h.Scan(cursor, func(f, v []byte) { items = append(items, f, v) })
			maxIter--
			if cursor == 0 || maxIter <= 0 || int64(len(items)) >= o.Count {
				break
			}
		}
	}
	if o.Match != nil {
		out := items[:0]
		for i := 0; i < len(items); i += 2 {
			if Match(o.Match, items[i], false) {
				out = append(out, items[i], items[i+1])
			}
		}
		items = out
	}
	c.W.ArrayLen(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.ArrayLen(len(items))
	for _, it := range items {
		c.W.Bulk(it)
	}
}
