package commands

import (
	"math"
	"strconv"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/resp"
)

// List commands (Redis 7.0's t_list.c), including the blocking ones.

func init() {
	Register(
		&Command{Name: "lpush", Arity: -3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: lpushCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @fast"},
		&Command{Name: "rpush", Arity: -3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: rpushCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @fast"},
		&Command{Name: "lpushx", Arity: -3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: lpushxCommand, Group: "list", Since: "2.2.0", Categories: "@write @list @fast"},
		&Command{Name: "rpushx", Arity: -3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: rpushxCommand, Group: "list", Since: "2.2.0", Categories: "@write @list @fast"},
		&Command{Name: "lpop", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: lpopCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @fast"},
		&Command{Name: "rpop", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: rpopCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @fast"},
		&Command{Name: "llen", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: llenCommand, Group: "list", Since: "1.0.0", Categories: "@read @list @fast"},
		&Command{Name: "lindex", Arity: 3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: lindexCommand, Group: "list", Since: "1.0.0", Categories: "@read @list @slow"},
		&Command{Name: "lset", Arity: 4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: lsetCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @slow"},
		&Command{Name: "lrange", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: lrangeCommand, Group: "list", Since: "1.0.0", Categories: "@read @list @slow"},
		&Command{Name: "ltrim", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Proc: ltrimCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @slow"},
		&Command{Name: "lrem", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Proc: lremCommand, Group: "list", Since: "1.0.0", Categories: "@write @list @slow"},
		&Command{Name: "linsert", Arity: 5, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: linsertCommand, Group: "list", Since: "2.2.0", Categories: "@write @list @slow"},
		&Command{Name: "lpos", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: lposCommand, Group: "list", Since: "6.0.6", Categories: "@read @list @slow"},
		&Command{Name: "lmove", Arity: 5, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Proc: lmoveCommand, Group: "list", Since: "6.2.0", Categories: "@write @list @slow"},
		&Command{Name: "rpoplpush", Arity: 3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Proc: rpoplpushCommand, Group: "list", Since: "1.2.0", Categories: "@write @list @slow"},
		&Command{Name: "lmpop", Arity: -4, Flags: Write, Keys: listNumkeysKeys(1), Proc: lmpopCommand, Group: "list", Since: "7.0.0", Categories: "@write @list @slow"},
		&Command{Name: "blpop", Arity: -3, Flags: Write | NoScript | Blocking, FirstKey: 1, LastKey: -2, Proc: blpopCommand, Group: "list", Since: "2.0.0", Categories: "@write @list @slow @blocking"},
		&Command{Name: "brpop", Arity: -3, Flags: Write | NoScript | Blocking, FirstKey: 1, LastKey: -2, Proc: brpopCommand, Group: "list", Since: "2.0.0", Categories: "@write @list @slow @blocking"},
		&Command{Name: "blmove", Arity: 6, Flags: Write | DenyOOM | NoScript | Blocking, FirstKey: 1, LastKey: 2, Proc: blmoveCommand, Group: "list", Since: "6.2.0", Categories: "@write @list @slow @blocking"},
		&Command{Name: "brpoplpush", Arity: 4, Flags: Write | DenyOOM | NoScript | Blocking, FirstKey: 1, LastKey: 2, Proc: brpoplpushCommand, Group: "list", Since: "2.2.0", Categories: "@write @list @slow @blocking"},
		&Command{Name: "blmpop", Arity: -5, Flags: Write | Blocking, Keys: listNumkeysKeys(2), Proc: blmpopCommand, Group: "list", Since: "7.0.0", Categories: "@write @list @slow @blocking"},
	)
}

// listNumkeysKeys returns a Keys func for "numkeys key [key ...]" at argument idx.
func listNumkeysKeys(idx int) func(args [][]byte) []int {
	return func(args [][]byte) []int {
		if idx >= len(args) {
			return nil
		}
		n, ok := ParseInt(args[idx])
		if !ok || n <= 0 || int64(idx)+n >= int64(len(args)) {
			return nil
		}
		out := make([]int, 0, n)
		for i := 0; i < int(n); i++ {
			out = append(out, idx+1+i)
		}
		return out
	}
}

const (
	listHead = 0
	listTail = 1
)

// listLookup fetches key as a list for reading; ok is false after a WRONGTYPE reply.
func listLookupRead(c *Ctx, key []byte) (*keyspace.List, bool) {
	return lookupRead[*keyspace.List](c, key, keyspace.TypeList)
}

// listLookupWrite fetches key as a list about to be modified.
func listLookupWrite(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.List, bool) {
	return lookupWrite[*keyspace.List](c, key, keyspace.TypeList)
}

func listCreate(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.List) {
	l := keyspace.NewList()
	e := keyspace.NewEntry(string(key), keyspace.TypeList, l)
	c.DB.Set(e, false)
	return e, l
}

func listCopy(v []byte) []byte { return append([]byte(nil), v...) }

func listPushEvent(where int) string {
	if where == listHead {
		return "lpush"
	}
	return "rpush"
}

func listPopEvent(where int) string {
	if where == listHead {
		return "lpop"
	}
	return "rpop"
}

func listWhereName(where int) []byte {
	if where == listHead {
		return []byte("LEFT")
	}
	return []byte("RIGHT")
}

func listPush(l *keyspace.List, v []byte, where int) {
	if where == listHead {
		l.PushFront(listCopy(v))
	} else {
		l.PushBack(listCopy(v))
	}
}

func listPop(l *keyspace.List, where int) []byte {
	var v []byte
	if where == listHead {
		v, _ = l.PopFront()
	} else {
		v, _ = l.PopBack()
	}
	return v
}

func listPushGeneric(c *Ctx, where int, xx bool) {
	key := c.Args[1]
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		if xx {
			c.W.Int(0)
			return
		}
		e, l = listCreate(c, key)
	} else {
		c.DB.Touch(e)
	}
	for _, v := range c.Args[2:] {
		listPush(l, v, where)
	}
	c.W.Int(int64(l.Len()))
	c.Modified(key)
	c.Dirty += len(c.Args) - 3
	c.Notify(NotifyList, listPushEvent(where), key)
	c.Srv.SignalKeyReady(c.DB.ID, key)
}

func lpushCommand(c *Ctx)  { listPushGeneric(c, listHead, false) }
func rpushCommand(c *Ctx)  { listPushGeneric(c, listTail, false) }
func lpushxCommand(c *Ctx) { listPushGeneric(c, listHead, true) }
func rpushxCommand(c *Ctx) { listPushGeneric(c, listTail, true) }

// listElementsRemoved does the bookkeeping after popping count elements.
func listElementsRemoved(c *Ctx, key []byte, e *keyspace.Entry, l *keyspace.List, where int, count int) {
	c.Notify(NotifyList, listPopEvent(where), key)
	if l.Len() == 0 {
		c.DB.Delete(string(key))
		c.Notify(NotifyGeneric, "del", key)
	} else {
		c.DB.Touch(e)
	}
	c.Modified(key)
	c.Dirty += count - 1
}

func listPopGeneric(c *Ctx, where int) {
	if len(c.Args) > 3 {
		c.W.Error(WrongArity(c.Cmd.Name))
		return
	}
	hasCount := len(c.Args) == 3
	count := int64(0)
	if hasCount {
		v, ok := ParseInt(c.Args[2])
		if !ok || v < 0 {
			c.W.Error(ErrNotPositive)
			return
		}
		count = v
	}
	key := c.Args[1]
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		if hasCount {
			c.W.NullArray()
		} else {
			c.W.Null()
		}
		return
	}
	if hasCount && count == 0 {
		c.W.ArrayLen(0)
		return
	}
	if !hasCount {
		v := listPop(l, where)
		c.W.Bulk(v)
		listElementsRemoved(c, key, e, l, where, 1)
		return
	}
	n := int(min(count, int64(l.Len())))
	c.W.ArrayLen(n)
	for i := 0; i < n; i++ {
		c.W.Bulk(listPop(l, where))
	}
	listElementsRemoved(c, key, e, l, where, n)
}

func lpopCommand(c *Ctx) { listPopGeneric(c, listHead) }
func rpopCommand(c *Ctx) { listPopGeneric(c, listTail) }

func llenCommand(c *Ctx) {
	l, ok := listLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(l.Len()))
}

func lindexCommand(c *Ctx) {
	l, ok := listLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	idx, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if l == nil {
		c.W.Null()
		return
	}
	if idx >= int64(l.Len()) || idx < -int64(l.Len()) {
		c.W.Null()
		return
	}
	v, _ := l.Index(int(idx))
	c.W.Bulk(v)
}

func lsetCommand(c *Ctx) {
	key := c.Args[1]
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Error(ErrNoSuchKey)
		return
	}
	idx, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if idx >= int64(l.Len()) || idx < -int64(l.Len()) {
		c.W.Error(ErrIndexRange)
		return
	}
	l.Set(int(idx), listCopy(c.Args[3]))
	c.DB.Touch(e)
	c.W.OK()
	c.Modified(key)
	c.Notify(NotifyList, "lset", key)
}

// listClampRange converts LRANGE-style start/end into a clamped [s, e]; ok
// is false when the range is empty.
func listClampRange(start, end int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if end < 0 {
		end += ln
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= ln {
		return 0, 0, false
	}
	if end >= ln {
		end = ln - 1
	}
	return int(start), int(end), true
}

func lrangeCommand(c *Ctx) {
	start, ok1 := ParseInt(c.Args[2])
	end, ok2 := ParseInt(c.Args[3])
	if !ok1 || !ok2 {
		c.W.Error(ErrNotInt)
		return
	}
	l, ok := listLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if l == nil {
		c.W.ArrayLen(0)
		return
	}
	s, e, ok := listClampRange(start, end, l.Len())
	if !ok {
		c.W.ArrayLen(0)
		return
	}
	c.W.ArrayLen(e - s + 1)
	l.Range(s, e, func(v []byte) { c.W.Bulk(v) })
}

func ltrimCommand(c *Ctx) {
	key := c.Args[1]
	start, ok1 := ParseInt(c.Args[2])
	end, ok2 := ParseInt(c.Args[3])
	if !ok1 || !ok2 {
		c.W.Error(ErrNotInt)
		return
	}
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.OK()
		return
	}
	n := l.Len()
	s, en, nonEmpty := listClampRange(start, end, n)
	removed := n
	if nonEmpty {
		removed = n - (en - s + 1)
		l.Trim(s, en)
	} else {
		l.Trim(1, 0)
	}
	c.Notify(NotifyList, "ltrim", key)
	if l.Len() == 0 {
		c.DB.Delete(string(key))
		c.Notify(NotifyGeneric, "del", key)
	} else {
		c.DB.Touch(e)
	}
	c.Srv.SignalModifiedKey(c.DB.ID, key)
	c.Dirty += removed
	c.W.OK()
}

func lremCommand(c *Ctx) {
	key := c.Args[1]
	toRemove, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	elem := c.Args[3]
	limit := toRemove
	if limit < 0 {
		limit = -limit
	}
	var removed int64
	n := l.Filter(toRemove < 0, func(v []byte) bool {
		if (limit == 0 || removed < limit) && string(v) == string(elem) {
			removed++
			return false
		}
		return true
	})
	if n > 0 {
		c.Notify(NotifyList, "lrem", key)
		if l.Len() == 0 {
			c.DB.Delete(string(key))
			c.Notify(NotifyGeneric, "del", key)
		} else {
			c.DB.Touch(e)
		}
		c.Modified(key)
		c.Dirty += n - 1
	}
	c.W.Int(int64(n))
}

func linsertCommand(c *Ctx) {
	key := c.Args[1]
	var after bool
	switch {
	case EqualFold(c.Args[2], "after"):
		after = true
	case EqualFold(c.Args[2], "before"):
	default:
		c.W.Error(ErrSyntax)
		return
	}
	e, l, ok := listLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	pivot := c.Args[3]
	pos := -1
	i := 0
	l.Each(func(v []byte) bool {
		if string(v) == string(pivot) {
			pos = i
			return false
		}
		i++
		return true
	})
	if pos < 0 {
		c.W.Int(-1)
		return
	}
	if after {
		pos++
	}
	l.Insert(pos, listCopy(c.Args[4]))
	c.DB.Touch(e)
	c.Modified(key)
	c.Notify(NotifyList, "linsert", key)
	c.W.Int(int64(l.Len()))
}

func lposCommand(c *Ctx) {
	var rank, count, maxlen int64 = 1, -1, 0
	for j := 3; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		switch {
		case EqualFold(c.Args[j], "rank") && more > 0:
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok {
				c.W.Error(ErrNotInt)
				return
			}
			if v == math.MinInt64 {
				// Redis negates it (overflow, still negative): any match
				// counts, from the tail, like RANK -1.
				v = -1
			}
			if v == 0 {
				c.W.Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = v
		case EqualFold(c.Args[j], "count") && more > 0:
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.W.Error("ERR COUNT can't be negative")
				return
			}
			count = v
		case EqualFold(c.Args[j], "maxlen") && more > 0:
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.W.Error("ERR MAXLEN can't be negative")
				return
			}
			maxlen = v
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	reverse := false
	if rank < 0 {
		rank = -rank
		reverse = true
	}
	l, ok := listLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if l == nil {
		if count != -1 {
			c.W.ArrayLen(0)
		} else {
			c.W.Null()
		}
		return
	}
	ele := c.Args[2]
	n := int64(l.Len())
	var index, matches int64
	matchIndex := int64(-1)
	var found []int64
	visit := func(v []byte) bool {
		if maxlen != 0 && index >= maxlen {
			return false
		}
		if string(v) == string(ele) {
			matches++
			if reverse {
				matchIndex = n - index - 1
			} else {
				matchIndex = index
			}
			if matches >= rank {
				if count != -1 {
					found = append(found, matchIndex)
					if count != 0 && matches-rank+1 >= count {
						return false
					}
				} else {
					return false
				}
			}
		}
		index++
		matchIndex = -1
		return true
	}
	if reverse {
		l.EachReverse(visit)
	} else {
		l.Each(visit)
	}
	if count != -1 {
		c.W.ArrayLen(len(found))
		for _, x := range found {
			c.W.Int(x)
		}
		return
	}
	if matchIndex != -1 {
		c.W.Int(matchIndex)
	} else {
		c.W.Null()
	}
}

func listParseWhere(c *Ctx, b []byte) (int, bool) {
	switch {
	case EqualFold(b, "left"):
		return listHead, true
	case EqualFold(b, "right"):
		return listTail, true
	}
	c.W.Error(ErrSyntax)
	return 0, false
}

// listMove pops from src (a non-empty list) and pushes to dst. It returns
// false (after a WRONGTYPE reply) when dst holds another type.
func listMove(c *Ctx, src []byte, se *keyspace.Entry, sl *keyspace.List, dst []byte, from, to int) bool {
	de, dl, ok := listLookupWrite(c, dst)
	if !ok {
		return false
	}
	v := listPop(sl, from)
	if de == nil {
		de, dl = listCreate(c, dst)
	} else {
		c.DB.Touch(de)
	}
	c.Srv.SignalModifiedKey(c.DB.ID, dst)
	if to == listHead {
		dl.PushFront(v)
	} else {
		dl.PushBack(v)
	}
	c.Notify(NotifyList, listPushEvent(to), dst)
	c.W.Bulk(v)
	c.Notify(NotifyList, listPopEvent(from), src)
	if sl.Len() == 0 {
		c.DB.Delete(string(src))
		c.Notify(NotifyGeneric, "del", src)
	} else {
		c.DB.Touch(se)
	}
	c.Modified(src)
	c.Srv.SignalKeyReady(c.DB.ID, dst)
	return true
}

func listMoveGeneric(c *Ctx, from, to int) {
	src, dst := c.Args[1], c.Args[2]
	se, sl, ok := listLookupWrite(c, src)
	if !ok {
		return
	}
	if se == nil || sl.Len() == 0 {
		c.W.Null()
		return
	}
	listMove(c, src, se, sl, dst, from, to)
}

func lmoveCommand(c *Ctx) {
	from, ok := listParseWhere(c, c.Args[3])
	if !ok {
		return
	}
	to, ok := listParseWhere(c, c.Args[4])
	if !ok {
		return
	}
	listMoveGeneric(c, from, to)
}

func rpoplpushCommand(c *Ctx) { listMoveGeneric(c, listTail, listHead) }

// listParseTimeout parses a blocking timeout in seconds (float, rounded up
// to milliseconds) like Redis's getTimeoutFromObjectOrReply.
func listParseTimeout(c *Ctx, b []byte) (time.Duration, bool) {
	f, ok := ParseLongDouble(b)
	if !ok && len(b) <= 5000 && len(b) > 0 && !isSpace(b[0]) {
		// strtold has a far wider range than a double: 1e400 is a valid
		// (huge) timeout there, which then overflows to "negative".
		if v, err := strconv.ParseFloat(string(b), 64); err != nil && math.IsInf(v, 0) {
			f, ok = v, true
		}
	}
	if !ok {
		c.W.Error("ERR timeout is not a float or out of range")
		return 0, false
	}
	// Redis converts ceil(ms) to long long; values past its range come out
	// as LLONG_MIN there, hence "negative" for inf and huge timeouts.
	t := math.Ceil(f * 1000)
	if t < 0 || t >= 9.223372036854775807e18 {
		c.W.Error("ERR timeout is negative")
		return 0, false
	}
	if t > 0 && t > float64(math.MaxInt64-c.Now) {
		c.W.Error("ERR timeout is out of range")
		return 0, false
	}
	if t >= float64(math.MaxInt64/int64(time.Millisecond)) {
		// Longer than time.Duration can hold: as good as forever.
		return 0, true
	}
	return time.Duration(t) * time.Millisecond, true
}

// listBlockedReadyKey reports, when a parked command is being re-run because
// one of its keys was signalled ready, which key that is. Like Redis 7.0 the
// re-run serves only from that key, and only if it has the right type.
func listBlockedReadyKey(c *Ctx) ([]byte, bool) {
	if r, ok := c.Client.(interface{ BlockedReadyKey() ([]byte, bool) }); ok {
		return r.BlockedReadyKey()
	}
	return nil, false
}

// listBlockKeys builds the deduplicated wait list.
func listBlockKeys(keys [][]byte) [][]byte {
	out := make([][]byte, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := seen[string(k)]; ok {
			continue
		}
		seen[string(k)] = struct{}{}
		out = append(out, k)
	}
	return out
}

func listNullArrayTimeout(w *resp.Writer) { w.NullArray() }

// listBlockingPop serves BLPOP/BRPOP/BLMPOP (count > 0 for BLMPOP).
func listBlockingPop(c *Ctx, keys [][]byte, where int, timeoutArg []byte, count int64) {
	timeout, ok := listParseTimeout(c, timeoutArg)
	if !ok {
		return
	}
	if rk, rerun := listBlockedReadyKey(c); rerun {
		e := c.DB.LookupWrite(string(rk))
		if e != nil && e.Type == keyspace.TypeList && e.Coll.Len() > 0 {
			listServePop(c, rk, e, e.Coll.(*keyspace.List), where, count)
			return
		}
		c.Block = &BlockRequest{Keys: listBlockKeys(keys), Timeout: timeout, OnTimeout: listNullArrayTimeout}
		return
	}
	for _, k := range keys {
		e, l, ok := listLookupWrite(c, k)
		if !ok {
			return
		}
		if e == nil || l.Len() == 0 {
			continue
		}
		listServePop(c, k, e, l, where, count)
		return
	}
	if c.Client.NoBlock() {
		c.W.NullArray()
		return
	}
	c.Block = &BlockRequest{Keys: listBlockKeys(keys), Timeout: timeout, OnTimeout: listNullArrayTimeout}
}

func listPopName(where int) []byte {
	if where == listHead {
		return []byte("LPOP")
	}
	return []byte("RPOP")
}

// listServePop pops from a non-empty list for the B*POP / LMPOP family.
func listServePop(c *Ctx, key []byte, e *keyspace.Entry, l *keyspace.List, where int, count int64) {
	if count > 0 {
		n := int(min(count, int64(l.Len())))
		c.W.ArrayLen(2)
		c.W.Bulk(key)
		c.W.ArrayLen(n)
		for i := 0; i < n; i++ {
			c.W.Bulk(listPop(l, where))
		}
		listElementsRemoved(c, key, e, l, where, n)
		c.AddPropagate(listPopName(where), key, Itoa(int64(n)))
		return
	}
	v := listPop(l, where)
	c.W.ArrayLen(2)
	c.W.Bulk(key)
	c.W.Bulk(v)
	listElementsRemoved(c, key, e, l, where, 1)
	c.AddPropagate(listPopName(where), key)
}

func blpopCommand(c *Ctx) {
	listBlockingPop(c, c.Args[1:len(c.Args)-1], listHead, c.Args[len(c.Args)-1], 0)
}

func brpopCommand(c *Ctx) {
	listBlockingPop(c, c.Args[1:len(c.Args)-1], listTail, c.Args[len(c.Args)-1], 0)
}

func listBlockingMove(c *Ctx, from, to int, timeoutArg []byte) {
	timeout, ok := listParseTimeout(c, timeoutArg)
	if !ok {
		return
	}
	src, dst := c.Args[1], c.Args[2]
	block := func() {
		c.Block = &BlockRequest{Keys: [][]byte{src}, Timeout: timeout, OnTimeout: listNullArrayTimeout}
	}
	if _, rerun := listBlockedReadyKey(c); rerun {
		e := c.DB.LookupWrite(string(src))
		if e == nil || e.Type != keyspace.TypeList || e.Coll.Len() == 0 {
			block()
			return
		}
	}
	se, sl, ok := listLookupWrite(c, src)
	if !ok {
		return
	}
	if se == nil || sl.Len() == 0 {
		if c.Client.NoBlock() {
			c.W.Null()
			return
		}
		block()
		return
	}
	if !listMove(c, src, se, sl, dst, from, to) {
		return
	}
	if c.Cmd.Name == "brpoplpush" {
		c.AddPropagate([]byte("RPOPLPUSH"), src, dst)
	} else {
		c.AddPropagate([]byte("LMOVE"), src, dst, listWhereName(from), listWhereName(to))
	}
}

func blmoveCommand(c *Ctx) {
	from, ok := listParseWhere(c, c.Args[3])
	if !ok {
		return
	}
	to, ok := listParseWhere(c, c.Args[4])
	if !ok {
		return
	}
	listBlockingMove(c, from, to, c.Args[5])
}

func brpoplpushCommand(c *Ctx) { listBlockingMove(c, listTail, listHead, c.Args[3]) }

// listParseMpop parses "numkeys key... LEFT|RIGHT [COUNT n]" starting at
// numkeys index idx.
func listParseMpop(c *Ctx, idx int) (keys [][]byte, where int, count int64, ok bool) {
	numkeys, ok1 := ParseInt(c.Args[idx])
	if !ok1 || numkeys <= 0 {
		c.W.Error("ERR numkeys should be greater than 0")
		return nil, 0, 0, false
	}
	whereIdx := int64(idx) + numkeys + 1
	if whereIdx >= int64(len(c.Args)) {
		c.W.Error(ErrSyntax)
		return nil, 0, 0, false
	}
	where, ok = listParseWhere(c, c.Args[whereIdx])
	if !ok {
		return nil, 0, 0, false
	}
	count = -1
	for j := int(whereIdx) + 1; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		if count == -1 && EqualFold(c.Args[j], "count") && more > 0 {
			j++
			v, ok2 := ParseInt(c.Args[j])
			if !ok2 || v <= 0 {
				c.W.Error("ERR count should be greater than 0")
				return nil, 0, 0, false
			}
			count = v
		} else {
			c.W.Error(ErrSyntax)
			return nil, 0, 0, false
		}
	}
	if count == -1 {
		count = 1
	}
	return c.Args[idx+1 : whereIdx], where, count, true
}

func lmpopCommand(c *Ctx) {
	keys, where, count, ok := listParseMpop(c, 1)
	if !ok {
		return
	}
	for _, k := range keys {
		e, l, ok := listLookupWrite(c, k)
		if !ok {
			return
		}
		if e == nil || l.Len() == 0 {
			continue
		}
		listServePop(c, k, e, l, where, count)
		return
	}
	c.W.NullArray()
}

func blmpopCommand(c *Ctx) {
	keys, where, count, ok := listParseMpop(c, 2)
	if !ok {
		return
	}
	listBlockingPop(c, keys, where, c.Args[1], count)
}
