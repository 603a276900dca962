package commands

import (
	"math"
	"strconv"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// String commands (Redis's t_string.c).

const maxStringSize = 512 * 1024 * 1024

func init() {
	Register(
		&Command{Name: "get", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: getCommand, Group: "string", Since: "1.0.0", Categories: "@read @string @fast"},
		&Command{Name: "set", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: setCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @slow"},
		&Command{Name: "setnx", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: setnxCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "setex", Arity: 4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: setexCommand, Group: "string", Since: "2.0.0", Categories: "@write @string @slow"},
		&Command{Name: "psetex", Arity: 4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: psetexCommand, Group: "string", Since: "2.6.0", Categories: "@write @string @slow"},
		&Command{Name: "mget", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Proc: mgetCommand, Group: "string", Since: "1.0.0", Categories: "@read @string @fast"},
		&Command{Name: "mset", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Step: 2, Proc: msetCommand, Group: "string", Since: "1.0.1", Categories: "@write @string @slow"},
		&Command{Name: "msetnx", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Step: 2, Proc: msetnxCommand, Group: "string", Since: "1.0.1", Categories: "@write @string @slow"},
		&Command{Name: "getset", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: getsetCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "getdel", Arity: 2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: getdelCommand, Group: "string", Since: "6.2.0", Categories: "@write @string @fast"},
		&Command{Name: "getex", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: getexCommand, Group: "string", Since: "6.2.0", Categories: "@write @string @fast"},
		&Command{Name: "append", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: appendCommand, Group: "string", Since: "2.0.0", Categories: "@write @string @fast"},
		&Command{Name: "strlen", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: strlenCommand, Group: "string", Since: "2.2.0", Categories: "@read @string @fast"},
		&Command{Name: "getrange", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: getrangeCommand, Group: "string", Since: "2.4.0", Categories: "@read @string @slow"},
		&Command{Name: "substr", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: getrangeCommand, Group: "string", Since: "1.0.0", Categories: "@read @string @slow"},
		&Command{Name: "setrange", Arity: 4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Proc: setrangeCommand, Group: "string", Since: "2.2.0", Categories: "@write @string @slow"},
		&Command{Name: "incr", Arity: 2, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: incrCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "decr", Arity: 2, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: decrCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "incrby", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: incrbyCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "decrby", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: decrbyCommand, Group: "string", Since: "1.0.0", Categories: "@write @string @fast"},
		&Command{Name: "incrbyfloat", Arity: 3, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: incrbyfloatCommand, Group: "string", Since: "2.6.0", Categories: "@write @string @fast"},
		&Command{Name: "lcs", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 2, Proc: lcsCommand, Group: "string", Since: "7.0.0", Categories: "@read @string @slow"},
	)
}

// lookupString returns the string entry of key, nil if missing, and writes
// WRONGTYPE (returning ok=false) if the key holds another type.
func lookupStringRead(c *Ctx, key []byte) (*keyspace.Entry, bool) {
	e := c.DB.LookupRead(string(key))
	if e == nil {
		return nil, true
	}
	if e.Type != keyspace.TypeString {
		c.W.Error(ErrWrongType)
		return nil, false
	}
	return e, true
}

func getCommand(c *Ctx) {
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	if e == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(e.Str)
}

const (
	setNX = 1 << iota
	setXX
	setGet
	setKeepTTL
	setEX
	setPX
	setEXAT
	setPXAT
)

// parseExpireArgs parses SET/GETEX's expiry options from args[i:], returning
// flags and the absolute expiry in ms.
func setCommand(c *Ctx) {
	flags := 0
	var expireAt int64
	var expArg []byte
	for i := 3; i < len(c.Args); i++ {
		a := c.Args[i]
		var next []byte
		if i+1 < len(c.Args) {
			next = c.Args[i+1]
		}
		switch {
		case EqualFold(a, "nx") && flags&(setXX) == 0:
			flags |= setNX
		case EqualFold(a, "xx") && flags&(setNX) == 0:
			flags |= setXX
		case EqualFold(a, "get"):
			flags |= setGet
		case EqualFold(a, "keepttl") && flags&(setEX|setPX|setEXAT|setPXAT) == 0:
			flags |= setKeepTTL
		case EqualFold(a, "ex") && flags&(setKeepTTL|setPX|setEXAT|setPXAT) == 0 && next != nil:
			flags |= setEX
			expArg = next
			i++
		case EqualFold(a, "px") && flags&(setKeepTTL|setEX|setEXAT|setPXAT) == 0 && next != nil:
			flags |= setPX
			expArg = next
			i++
		case EqualFold(a, "exat") && flags&(setKeepTTL|setEX|setPX|setPXAT) == 0 && next != nil:
			flags |= setEXAT
			expArg = next
			i++
		case EqualFold(a, "pxat") && flags&(setKeepTTL|setEX|setPX|setEXAT) == 0 && next != nil:
			flags |= setPXAT
			expArg = next
			i++
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	if expArg != nil {
		var ok bool
		expireAt, ok = absExpire(c, expArg, flags&(setEX|setEXAT) != 0, flags&(setEXAT|setPXAT) != 0, "set")
		if !ok {
			return
		}
	}
	setGeneric(c, flags, c.Args[1], c.Args[2], expireAt, expArg != nil)
}

// absExpire converts an expiry argument to absolute unix ms, writing Redis's
// errors: not an integer, or "invalid expire time" for <= 0 and overflow.
func absExpire(c *Ctx, arg []byte, seconds, absolute bool, cmd string) (int64, bool) {
	v, ok := ParseInt(arg)
	if !ok {
		c.W.Error(ErrNotInt)
		return 0, false
	}
	if v <= 0 || (seconds && v > math.MaxInt64/1000) {
		c.W.Error("ERR invalid expire time in '" + cmd + "' command")
		return 0, false
	}
	if seconds {
		v *= 1000
	}
	if !absolute {
		if v > math.MaxInt64-c.Now {
			c.W.Error("ERR invalid expire time in '" + cmd + "' command")
			return 0, false
		}
		v += c.Now
	}
	return v, true
}

func setGeneric(c *Ctx, flags int, key, val []byte, expireAt int64, hasExpire bool) {
	k := string(key)
	var old *keyspace.Entry
	if flags&setGet != 0 {
		old = c.DB.LookupRead(k)
		if old != nil && old.Type != keyspace.TypeString {
			c.W.Error(ErrWrongType)
			return
		}
	} else {
		old = c.DB.LookupWrite(k)
	}
	if (flags&setNX != 0 && old != nil) || (flags&setXX != 0 && old == nil) {
		if flags&setGet != 0 {
			if old == nil {
				c.W.Null()
			} else {
				c.W.Bulk(old.Str)
			}
		} else {
			c.W.Null()
		}
		return
	}
	var oldVal []byte
	if flags&setGet != 0 && old != nil {
		oldVal = old.Str
	}
	var e *keyspace.Entry
	if flags&setGet == 0 && old != nil && old.Type == keyspace.TypeString && cap(old.Str) >= len(val) && cap(old.Str) <= 2*len(val)+64 {
		// Overwrite in place: the hot path of SET on an existing key, with
		// no allocation. LookupWrite already gave us a private copy if a
		// snapshot had captured the entry.
		e = old
		e.Str = append(e.Str[:0], val...)
		e.Coll = nil
		if flags&setKeepTTL == 0 && e.Expire() != 0 {
			c.DB.SetExpire(e, 0)
		}
		c.DB.Touch(e)
	} else {
		e = keyspace.NewStringEntry(k, append([]byte(nil), val...))
		c.DB.Set(e, flags&setKeepTTL != 0)
	}
	c.Modified(key)
	c.Notify(NotifyString, "set", key)
	if hasExpire {
		c.DB.SetExpire(e, expireAt)
		c.Notify(NotifyGeneric, "expire", key)
		// Propagate absolute times so replicas and the AOF agree whatever
		// their clock or replay time.
		args := [][]byte{[]byte("SET"), key, val, []byte("PXAT"), Itoa(expireAt)}
		if flags&setGet != 0 {
			args = append(args, []byte("GET"))
		}
		c.AddPropagate(args...)
	}
	if flags&setGet != 0 {
		if old == nil {
			c.W.Null()
		} else {
			c.W.Bulk(oldVal)
		}
		return
	}
	c.W.OK()
}

func setnxCommand(c *Ctx) {
	if c.DB.LookupWrite(string(c.Args[1])) != nil {
		c.W.Int(0)
		return
	}
	e := keyspace.NewStringEntry(string(c.Args[1]), append([]byte(nil), c.Args[2]...))
	c.DB.Set(e, false)
	c.Modified(c.Args[1])
	c.Notify(NotifyString, "set", c.Args[1])
	c.W.Int(1)
}

func setexGeneric(c *Ctx, seconds bool, name string) {
	at, ok := absExpire(c, c.Args[2], seconds, false, name)
	if !ok {
		return
	}
	key, val := c.Args[1], c.Args[3]
	e := keyspace.NewStringEntry(string(key), append([]byte(nil), val...))
	c.DB.Set(e, false)
	c.DB.SetExpire(e, at)
	c.Modified(key)
	c.Notify(NotifyString, "set", key)
	c.Notify(NotifyGeneric, "expire", key)
	c.AddPropagate([]byte("SET"), key, val, []byte("PXAT"), Itoa(at))
	c.W.OK()
}

func setexCommand(c *Ctx)  { setexGeneric(c, true, "setex") }
func psetexCommand(c *Ctx) { setexGeneric(c, false, "psetex") }

func mgetCommand(c *Ctx) {
	c.W.ArrayLen(len(c.Args) - 1)
	for _, k := range c.Args[1:] {
		e := c.DB.LookupRead(string(k))
		if e == nil || e.Type != keyspace.TypeString {
			c.W.Null()
			continue
		}
		c.W.Bulk(e.Str)
	}
}

func msetGeneric(c *Ctx, nx bool) {
	if len(c.Args)%2 != 1 {
		c.W.Error(WrongArity(c.Cmd.Name))
		return
	}
	if nx {
		for i := 1; i < len(c.Args); i += 2 {
			if c.DB.LookupWrite(string(c.Args[i])) != nil {
				c.W.Int(0)
				return
			}
		}
	}
	for i := 1; i < len(c.Args); i += 2 {
		e := keyspace.NewStringEntry(string(c.Args[i]), append([]byte(nil), c.Args[i+1]...))
		c.DB.Set(e, false)
		c.Modified(c.Args[i])
		c.Notify(NotifyString, "set", c.Args[i])
	}
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

func msetCommand(c *Ctx)   { msetGeneric(c, false) }
func msetnxCommand(c *Ctx) { msetGeneric(c, true) }

func getsetCommand(c *Ctx) {
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	var old []byte
	if e != nil {
		old = e.Str
	}
	ne := keyspace.NewStringEntry(string(c.Args[1]), append([]byte(nil), c.Args[2]...))
	c.DB.Set(ne, false)
	c.Modified(c.Args[1])
	c.Notify(NotifyString, "set", c.Args[1])
	// GETSET is propagated as SET so replicas need not send the reply.
	c.AddPropagate([]byte("SET"), c.Args[1], c.Args[2])
	if e == nil {
		c.W.Null()
	} else {
		c.W.Bulk(old)
	}
}

func getdelCommand(c *Ctx) {
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	if e == nil {
		c.W.Null()
		return
	}
	val := e.Str
	c.DB.Delete(string(c.Args[1]))
	c.Modified(c.Args[1])
	c.Notify(NotifyGeneric, "del", c.Args[1])
	c.AddPropagate([]byte("DEL"), c.Args[1])
	c.W.Bulk(val)
}

func getexCommand(c *Ctx) {
	flags := 0
	var expArg []byte
	persist := false
	for i := 2; i < len(c.Args); i++ {
		a := c.Args[i]
		var next []byte
		if i+1 < len(c.Args) {
			next = c.Args[i+1]
		}
		exclusive := flags == 0 && !persist
		switch {
		case EqualFold(a, "persist") && exclusive:
			persist = true
		case EqualFold(a, "ex") && exclusive && next != nil:
			flags, expArg = setEX, next
			i++
		case EqualFold(a, "px") && exclusive && next != nil:
			flags, expArg = setPX, next
			i++
		case EqualFold(a, "exat") && exclusive && next != nil:
			flags, expArg = setEXAT, next
			i++
		case EqualFold(a, "pxat") && exclusive && next != nil:
			flags, expArg = setPXAT, next
			i++
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	var at int64
	if expArg != nil {
		var ok bool
		at, ok = absExpire(c, expArg, flags&(setEX|setEXAT) != 0, flags&(setEXAT|setPXAT) != 0, "getex")
		if !ok {
			return
		}
	}
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	if e == nil {
		c.W.Null()
		return
	}
	val := e.Str
	key := c.Args[1]
	switch {
	case expArg != nil && at <= c.Now && !c.KS.NoExpireDelete:
		// An expiry in the past deletes the key, as EXPIRE does.
		c.DB.Delete(string(key))
		c.Modified(key)
		c.Notify(NotifyGeneric, "del", key)
		c.AddPropagate([]byte("DEL"), key)
	case expArg != nil:
		c.DB.SetExpire(e, at)
		c.Modified(key)
		c.Notify(NotifyGeneric, "expire", key)
		c.AddPropagate([]byte("PEXPIREAT"), key, Itoa(at))
	case persist && e.Expire() != 0:
		c.DB.SetExpire(e, 0)
		c.Modified(key)
		c.Notify(NotifyGeneric, "persist", key)
		c.AddPropagate([]byte("PERSIST"), key)
	}
	c.W.Bulk(val)
}

func appendCommand(c *Ctx) {
	key := c.Args[1]
	e := c.DB.LookupWrite(string(key))
	if e == nil {
		e = keyspace.NewStringEntry(string(key), append([]byte(nil), c.Args[2]...))
		c.DB.Set(e, false)
	} else {
		if e.Type != keyspace.TypeString {
			c.W.Error(ErrWrongType)
			return
		}
		if int64(len(e.Str))+int64(len(c.Args[2])) > c.Srv.Setting("proto-max-bulk-len") {
			c.W.Error(ErrStringTooBig)
			return
		}
		e.Str = append(e.Str, c.Args[2]...)
		e.Coll = StrRaw
		c.DB.Touch(e)
	}
	c.Modified(key)
	c.Notify(NotifyString, "append", key)
	c.W.Int(int64(len(e.Str)))
}

func strlenCommand(c *Ctx) {
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(len(e.Str)))
}

func getrangeCommand(c *Ctx) {
	start, ok1 := ParseInt(c.Args[2])
	end, ok2 := ParseInt(c.Args[3])
	if !ok1 || !ok2 {
		c.W.Error(ErrNotInt)
		return
	}
	e, ok := lookupStringRead(c, c.Args[1])
	if !ok {
		return
	}
	if e == nil {
		c.W.BulkString("")
		return
	}
	s := e.Str
	n := int64(len(s))
	if start < 0 && end < 0 && start > end {
		c.W.BulkString("")
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.W.BulkString("")
		return
	}
	c.W.Bulk(s[start : end+1])
}

func setrangeCommand(c *Ctx) {
	key := c.Args[1]
	off, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if off < 0 {
		c.W.Error("ERR offset is out of range")
		return
	}
	val := c.Args[3]
	e := c.DB.LookupWrite(string(key))
	if e != nil && e.Type != keyspace.TypeString {
		c.W.Error(ErrWrongType)
		return
	}
	if e == nil && len(val) == 0 {
		c.W.Int(0)
		return
	}
	if len(val) > 0 && off > c.Srv.Setting("proto-max-bulk-len")-int64(len(val)) {
		c.W.Error(ErrStringTooBig)
		return
	}
	if e == nil {
		e = keyspace.NewStringEntry(string(key), nil)
		c.DB.Set(e, false)
	}
	if len(val) == 0 {
		c.W.Int(int64(len(e.Str)))
		return
	}
	need := int(off) + len(val)
	if need > len(e.Str) {
		if need > cap(e.Str) {
			ns := make([]byte, need)
			copy(ns, e.Str)
			e.Str = ns
		} else {
			old := len(e.Str)
			e.Str = e.Str[:need]
			clear(e.Str[old:])
		}
	}
	copy(e.Str[off:], val)
	e.Coll = StrRaw
	c.DB.Touch(e)
	c.Modified(key)
	c.Notify(NotifyString, "setrange", key)
	c.W.Int(int64(len(e.Str)))
}

func incrDecr(c *Ctx, by int64) {
	key := c.Args[1]
	e := c.DB.LookupWrite(string(key))
	var cur int64
	if e != nil {
		if e.Type != keyspace.TypeString {
			c.W.Error(ErrWrongType)
			return
		}
		v, ok := ParseInt(e.Str)
		if !ok {
			c.W.Error(ErrNotInt)
			return
		}
		cur = v
	}
	if (by < 0 && cur < 0 && by < math.MinInt64-cur) || (by > 0 && cur > 0 && by > math.MaxInt64-cur) {
		c.W.Error(ErrOverflow)
		return
	}
	cur += by
	if e == nil {
		e = keyspace.NewStringEntry(string(key), Itoa(cur))
		c.DB.Set(e, false)
	} else {
		e.Str = strconv.AppendInt(e.Str[:0], cur, 10)
		e.Coll = nil
		c.DB.Touch(e)
	}
	c.Modified(key)
	c.Notify(NotifyString, "incrby", key)
	c.W.Int(cur)
}

func incrCommand(c *Ctx) { incrDecr(c, 1) }
func decrCommand(c *Ctx) { incrDecr(c, -1) }
func incrbyCommand(c *Ctx) {
	v, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	incrDecr(c, v)
}
func decrbyCommand(c *Ctx) {
	v, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if v == math.MinInt64 {
		c.W.Error("ERR decrement would overflow")
		return
	}
	incrDecr(c, -v)
}

func incrbyfloatCommand(c *Ctx) {
	key := c.Args[1]
	e := c.DB.LookupWrite(string(key))
	var cur []byte
	if e != nil {
		if e.Type != keyspace.TypeString {
			c.W.Error(ErrWrongType)
			return
		}
		cur = e.Str
	}
	s, msg := IncrByFloatString(cur, c.Args[2])
	if msg != "" {
		c.W.Error(msg)
		return
	}
	if e == nil {
		e = keyspace.NewStringEntry(string(key), s)
		c.DB.Set(e, false)
	} else {
		e.Str = s
		c.DB.Touch(e)
	}
	e.Coll = StrNoInt
	c.Modified(key)
	c.Notify(NotifyString, "incrbyfloat", key)
	// Propagate as SET with KEEPTTL so float formatting differences between
	// hosts can't make replicas diverge.
	c.AddPropagate([]byte("SET"), key, s, []byte("KEEPTTL"))
	c.W.Bulk(s)
}

func lcsCommand(c *Ctx) {
	var getLen, getIdx, withLen bool
	var minLen int64
	for i := 3; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case EqualFold(a, "idx"):
			getIdx = true
		case EqualFold(a, "len"):
			getLen = true
		case EqualFold(a, "withmatchlen"):
			withLen = true
		case EqualFold(a, "minmatchlen") && i+1 < len(c.Args):
			v, ok := ParseInt(c.Args[i+1])
			if !ok {
				c.W.Error(ErrNotInt)
				return
			}
			if v < 0 {
				v = 0
			}
			minLen = v
			i++
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	var a, b []byte
	for i, k := range c.Args[1:3] {
		e := c.DB.LookupRead(string(k))
		if e != nil && e.Type != keyspace.TypeString {
			c.W.Error("ERR The specified keys must contain string values")
			return
		}
		if e != nil {
			if i == 0 {
				a = e.Str
			} else {
				b = e.Str
			}
		}
	}
	if getIdx && getLen {
		c.W.Error("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	if int64(len(a)+1)*int64(len(b)+1) > 1<<31 {
		c.W.Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	// Classic dynamic programming table, (len(a)+1) x (len(b)+1).
	w := len(b) + 1
	dp := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			} else if dp[(i-1)*w+j] > dp[i*w+j-1] {
				dp[i*w+j] = dp[(i-1)*w+j]
			} else {
				dp[i*w+j] = dp[i*w+j-1]
			}
		}
	}
	total := dp[len(a)*w+len(b)]
	if getLen {
		c.W.Int(int64(total))
		return
	}
	lcs := make([]byte, total)
	type match struct{ a0, a1, b0, b1 int }
	var matches []match
	i, j := len(a), len(b)
	idx := int(total)
	var cur *match
	emit := func() {
		if cur != nil {
			if int64(cur.a1-cur.a0+1) >= minLen {
				matches = append(matches, *cur)
			}
			cur = nil
		}
	}
	for i > 0 && j > 0 {
		if a[i-1] == b[j-1] {
			idx--
			lcs[idx] = a[i-1]
			if cur != nil && cur.a0 == i && cur.b0 == j {
				cur.a0, cur.b0 = i-1, j-1
			} else {
				emit()
				cur = &match{a0: i - 1, a1: i - 1, b0: j - 1, b1: j - 1}
			}
			i--
			j--
		} else if dp[(i-1)*w+j] > dp[i*w+j-1] {
			i--
		} else {
			j--
		}
	}
	emit()
	if !getIdx {
		c.W.Bulk(lcs)
		return
	}
	c.W.MapLen(2)
	c.W.BulkString("matches")
	c.W.ArrayLen(len(matches))
	for _, m := range matches {
		if withLen {
			c.W.ArrayLen(3)
		} else {
			c.W.ArrayLen(2)
		}
		c.W.ArrayLen(2)
		c.W.Int(int64(m.a0))
		c.W.Int(int64(m.a1))
		c.W.ArrayLen(2)
		c.W.Int(int64(m.b0))
		c.W.Int(int64(m.b1))
		if withLen {
			c.W.Int(int64(m.a1 - m.a0 + 1))
		}
	}
	c.W.BulkString("len")
	c.W.Int(int64(total))
}

// StrEncoding marks a string value whose OBJECT ENCODING can't be derived
// from its bytes: Redis keeps APPEND/SETRANGE results "raw" and doesn't
// try the integer encoding for INCRBYFLOAT results. It rides in the
// entry's Coll field, unused by strings; nil means "as SET would encode it".
type StrEncoding string

const (
	// StrRaw is a value modified in place (APPEND, SETRANGE).
	StrRaw StrEncoding = "raw"
	// StrNoInt is a value stored without trying the int encoding.
	StrNoInt StrEncoding = "noint"
)

func (StrEncoding) Len() int                     { return 0 }
func (StrEncoding) MemUsage() int64              { return 0 }
func (s StrEncoding) Clone() keyspace.Collection { return s }
func (s StrEncoding) Encoding() string           { return string(s) }

// StringEncodingOf reports OBJECT ENCODING for a string entry.
func StringEncodingOf(e *keyspace.Entry) string {
	switch e.Coll {
	case StrRaw:
		return "raw"
	case StrNoInt:
		if len(e.Str) <= 44 {
			return "embstr"
		}
		return "raw"
	}
	v := e.Str
	if len(v) <= 20 {
		if _, ok := ParseInt(v); ok {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}
