package commands

import (
	"math"
	"strconv"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// Generic key commands (Redis's db.c and expire.c).

func init() {
	Register(
		&Command{Name: "del", Arity: -2, Flags: Write, FirstKey: 1, LastKey: -1, Proc: delCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @write @slow"},
		&Command{Name: "unlink", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: -1, Proc: delCommand, Group: "generic", Since: "4.0.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "exists", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Proc: existsCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "type", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: typeCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "rename", Arity: 3, Flags: Write, FirstKey: 1, LastKey: 2, Proc: renameCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @write @slow"},
		&Command{Name: "renamenx", Arity: 3, Flags: Write | Fast, FirstKey: 1, LastKey: 2, Proc: renamenxCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "keys", Arity: 2, Flags: ReadOnly, Proc: keysCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @read @slow @dangerous"},
		&Command{Name: "scan", Arity: -2, Flags: ReadOnly, Proc: scanCommand, Group: "generic", Since: "2.8.0", Categories: "@keyspace @read @slow"},
		&Command{Name: "randomkey", Arity: 1, Flags: ReadOnly, Proc: randomkeyCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @read @slow"},
		&Command{Name: "dbsize", Arity: 1, Flags: ReadOnly | Fast, Proc: dbsizeCommand, Group: "server", Since: "1.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "move", Arity: 3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: moveCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "copy", Arity: -3, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Proc: copyCommand, Group: "generic", Since: "6.2.0", Categories: "@keyspace @write @slow"},
		&Command{Name: "expire", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: expireCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "pexpire", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: pexpireCommand, Group: "generic", Since: "2.6.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "expireat", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: expireatCommand, Group: "generic", Since: "1.2.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "pexpireat", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: pexpireatCommand, Group: "generic", Since: "2.6.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "ttl", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: ttlCommand, Group: "generic", Since: "1.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "pttl", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: pttlCommand, Group: "generic", Since: "2.6.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "expiretime", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: expiretimeCommand, Group: "generic", Since: "7.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "pexpiretime", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: pexpiretimeCommand, Group: "generic", Since: "7.0.0", Categories: "@keyspace @read @fast"},
		&Command{Name: "persist", Arity: 2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: persistCommand, Group: "generic", Since: "2.2.0", Categories: "@keyspace @write @fast"},
		&Command{Name: "touch", Arity: -2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: -1, Proc: touchCommand, Group: "generic", Since: "3.2.1", Categories: "@keyspace @read @fast"},
	)
}

func delCommand(c *Ctx) {
	n := int64(0)
	for _, k := range c.Args[1:] {
		if c.DB.Delete(string(k)) {
			c.Modified(k)
			c.Notify(NotifyGeneric, "del", k)
			n++
		}
	}
	c.W.Int(n)
}

func existsCommand(c *Ctx) {
	n := int64(0)
	for _, k := range c.Args[1:] {
		if c.DB.Peek(string(k)) != nil {
			n++
		}
	}
	c.W.Int(n)
}

func typeCommand(c *Ctx) {
	e := c.DB.Peek(string(c.Args[1]))
	if e == nil {
		c.W.Simple("none")
		return
	}
	c.W.Simple(e.Type.Name())
}

func renameGeneric(c *Ctx, nx bool) {
	src, dst := c.Args[1], c.Args[2]
	e := c.DB.LookupWrite(string(src))
	if e == nil {
		c.W.Error(ErrNoSuchKey)
		return
	}
	if string(src) == string(dst) {
		if nx {
			c.W.Int(0)
		} else {
			c.W.OK()
		}
		return
	}
	if c.DB.LookupWrite(string(dst)) != nil {
		if nx {
			c.W.Int(0)
			return
		}
		c.DB.Delete(string(dst))
	}
	exp := e.Expire()
	ne := c.DB.Rename(string(src), string(dst))
	if ne != nil && exp != 0 && ne.Expire() != exp {
		// The source's TTL moves with the value.
		c.DB.SetExpire(ne, exp)
	}
	c.Modified(src)
	c.Modified(dst)
	c.Notify(NotifyGeneric, "rename_from", src)
	c.Notify(NotifyGeneric, "rename_to", dst)
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

func renameCommand(c *Ctx)   { renameGeneric(c, false) }
func renamenxCommand(c *Ctx) { renameGeneric(c, true) }

func keysCommand(c *Ctx) {
	pat := c.Args[1]
	all := len(pat) == 1 && pat[0] == '*'
	var keys []string
	now := c.Now
	c.DB.Dict().ForEach(func(e *keyspace.Entry) bool {
		if e.Expire() != 0 && e.Expire() <= now {
			return true
		}
		if all || Match(pat, []byte(e.Key()), false) {
			keys = append(keys, e.Key())
		}
		return true
	})
	c.W.ArrayLen(len(keys))
	for _, k := range keys {
		c.W.BulkString(k)
	}
}

// ParseScanCursor parses a SCAN cursor as Redis does (strtoul): an optional
// sign, decimal digits (none at all is cursor 0), a negative value wraps,
// overflow, a leading space or trailing garbage is an error.
func ParseScanCursor(c *Ctx, b []byte) (uint64, bool) {
	bad := func() (uint64, bool) {
		c.W.Error("ERR invalid cursor")
		return 0, false
	}
	if len(b) == 0 {
		return 0, true
	}
	if isSpace(b[0]) {
		return bad()
	}
	neg := false
	i := 0
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return bad()
	}
	var v uint64
	for ; i < len(b); i++ {
		ch := b[i]
		if ch < '0' || ch > '9' {
			return bad()
		}
		d := uint64(ch - '0')
		if v > (math.MaxUint64-d)/10 {
			return bad()
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// GetIntArg parses an argument as Redis's getIntFromObjectOrReply: a
// 64-bit integer (ErrNotInt otherwise) within the C int range ("ERR value
// is out of range" otherwise). msg, when set, replaces both errors.
func GetIntArg(c *Ctx, b []byte, msg string) (int, bool) {
	v, ok := ParseInt(b)
	if !ok {
		if msg == "" {
			msg = ErrNotInt
		}
		c.W.Error(msg)
		return 0, false
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		if msg == "" {
			msg = "ERR value is out of range, value must between -2147483648 and 2147483647"
		}
		c.W.Error(msg)
		return 0, false
	}
	return int(v), true
}

// ScanOptions are the MATCH / COUNT / TYPE options of the SCAN family.
type ScanOptions struct {
	Match []byte
	Count int64
	Type  []byte
	// NoValues is HSCAN's NOVALUES (7.4; not in 7.0, kept off).
}

// ParseScanOptions parses options from args[i:]; allowType for SCAN only.
func ParseScanOptions(c *Ctx, args [][]byte, allowType bool) (ScanOptions, bool) {
	o := ScanOptions{Count: 10}
	for i := 0; i < len(args); i++ {
		left := len(args) - i - 1
		switch {
		case EqualFold(args[i], "count") && left >= 1:
			v, ok := ParseInt(args[i+1])
			if !ok {
				c.W.Error(ErrNotInt)
				return o, false
			}
			if v < 1 {
				c.W.Error(ErrSyntax)
				return o, false
			}
			o.Count = v
			i++
		case EqualFold(args[i], "match") && left >= 1:
			o.Match = args[i+1]
			if len(o.Match) == 1 && o.Match[0] == '*' {
				o.Match = nil
			}
			i++
		case allowType && EqualFold(args[i], "type") && left >= 1:
			o.Type = args[i+1]
			i++
		default:
			c.W.Error(ErrSyntax)
			return o, false
		}
	}
	return o, true
}

func scanCommand(c *Ctx) {
	cursor, ok := ParseScanCursor(c, c.Args[1])
	if !ok {
		return
	}
	o, ok := ParseScanOptions(c, c.Args[2:], true)
	if !ok {
		return
	}
	var keys []string
	d := c.DB.Dict()
	// Like Redis, bound the number of buckets visited per call by COUNT*10 so
	// sparse tables still return promptly.
	maxIter := o.Count * 10
	for {
		cursor = d.Scan(cursor, func(e *keyspace.Entry) {
			keys = append(keys, e.Key())
		})
		maxIter--
		if cursor == 0 || maxIter <= 0 || int64(len(keys)) >= o.Count {
			break
		}
	}
	out := keys[:0]
	for _, k := range keys {
		if o.Match != nil && !Match(o.Match, []byte(k), false) {
			continue
		}
		e := c.DB.Peek(k) // also expires the key, as Redis's scan does
		if e == nil {
			continue
		}
		if o.Type != nil && !EqualFold(o.Type, e.Type.Name()) {
			continue
		}
		out = append(out, k)
	}
	c.W.ArrayLen(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.ArrayLen(len(out))
	for _, k := range out {
		c.W.BulkString(k)
	}
}

func randomkeyCommand(c *Ctx) {
	e := c.DB.RandomKey()
	if e == nil {
		c.W.Null()
		return
	}
	c.W.BulkString(e.Key())
}

func dbsizeCommand(c *Ctx) { c.W.Int(int64(c.DB.Len())) }

func moveCommand(c *Ctx) {
	id, ok := GetIntArg(c, c.Args[2], "")
	if !ok {
		return
	}
	if id < 0 || id >= len(c.KS.DBs) {
		c.W.Error(ErrDBIndex)
		return
	}
	dst := c.KS.DBs[id]
	if dst == c.DB {
		c.W.Error("ERR source and destination objects are the same")
		return
	}
	key := c.Args[1]
	e := c.DB.LookupWrite(string(key))
	if e == nil {
		c.W.Int(0)
		return
	}
	if dst.Peek(string(key)) != nil {
		c.W.Int(0)
		return
	}
	c.DB.MoveTo(e, dst)
	c.Modified(key)
	c.Srv.SignalModifiedKey(dst.ID, key)
	c.Notify(NotifyGeneric, "move_from", key)
	c.Srv.Notify(NotifyGeneric, "move_to", key, dst.ID)
	c.W.Int(1)
}

func copyCommand(c *Ctx) {
	src, dstKey := c.Args[1], c.Args[2]
	dst := c.DB
	replace := false
	for i := 3; i < len(c.Args); i++ {
		switch {
		case EqualFold(c.Args[i], "replace"):
			replace = true
		case EqualFold(c.Args[i], "db") && i+1 < len(c.Args):
			id, ok := GetIntArg(c, c.Args[i+1], "")
			if !ok {
				return
			}
			if id < 0 || id >= len(c.KS.DBs) {
				c.W.Error(ErrDBIndex)
				return
			}
			dst = c.KS.DBs[id]
			i++
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	if dst == c.DB && string(src) == string(dstKey) {
		c.W.Error("ERR source and destination objects are the same")
		return
	}
	e := c.DB.LookupRead(string(src))
	if e == nil {
		c.W.Int(0)
		return
	}
	if dst.LookupWrite(string(dstKey)) != nil {
		if !replace {
			c.W.Int(0)
			return
		}
		dst.Delete(string(dstKey))
	}
	ne := e.Clone(string(dstKey))
	dst.Add(ne)
	if e.Expire() != 0 {
		dst.SetExpire(ne, e.Expire())
	}
	c.Dirty++
	c.Srv.SignalModifiedKey(dst.ID, dstKey)
	c.Srv.Notify(NotifyGeneric, "copy_to", dstKey, dst.ID)
	c.W.Int(1)
}

// Expire flags.
const (
	expNX = 1 << iota
	expXX
	expGT
	expLT
)

func expireGeneric(c *Ctx, unitSeconds, absolute bool) {
	key := c.Args[1]
	flags := 0
	for _, a := range c.Args[3:] {
		switch {
		case EqualFold(a, "nx"):
			flags |= expNX
		case EqualFold(a, "xx"):
			flags |= expXX
		case EqualFold(a, "gt"):
			flags |= expGT
		case EqualFold(a, "lt"):
			flags |= expLT
		default:
			c.W.Error("ERR Unsupported option " + string(a))
			return
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		c.W.Error("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		c.W.Error("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := ParseInt(c.Args[2])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	name := c.Cmd.Name
	if unitSeconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.W.Error("ERR invalid expire time in '" + name + "' command")
			return
		}
		when *= 1000
	}
	if !absolute {
		if when > math.MaxInt64-c.Now {
			c.W.Error("ERR invalid expire time in '" + name + "' command")
			return
		}
		when += c.Now
	}
	e := c.DB.LookupWrite(string(key))
	if e == nil {
		c.W.Int(0)
		return
	}
	cur := e.Expire()
	if flags != 0 {
		// A key without TTL counts as an infinite TTL for GT/LT.
		switch {
		case flags&expNX != 0 && cur != 0,
			flags&expXX != 0 && cur == 0,
			flags&expGT != 0 && (cur == 0 || when <= cur),
			flags&expLT != 0 && cur != 0 && when >= cur:
			c.W.Int(0)
			return
		}
	}
	if when <= c.Now && !c.KS.NoExpireDelete {
		// A time in the past deletes the key now; propagate DEL.
		c.DB.Delete(string(key))
		c.Modified(key)
		c.Notify(NotifyGeneric, "del", key)
		c.AddPropagate([]byte("DEL"), key)
		c.W.Int(1)
		return
	}
	c.DB.SetExpire(e, when)
	c.Modified(key)
	c.Notify(NotifyGeneric, "expire", key)
	if name != "pexpireat" {
		args := [][]byte{[]byte("PEXPIREAT"), key, Itoa(when)}
		args = append(args, c.Args[3:]...)
		c.AddPropagate(args...)
	}
	c.W.Int(1)
}

func expireCommand(c *Ctx)    { expireGeneric(c, true, false) }
func pexpireCommand(c *Ctx)   { expireGeneric(c, false, false) }
func expireatCommand(c *Ctx)  { expireGeneric(c, true, true) }
func pexpireatCommand(c *Ctx) { expireGeneric(c, false, true) }

func ttlGeneric(c *Ctx, ms, abs bool) {
	e := c.DB.LookupRead(string(c.Args[1]))
	if e == nil {
		c.W.Int(-2)
		return
	}
	exp := e.Expire()
	if exp == 0 {
		c.W.Int(-1)
		return
	}
	v := exp
	if !abs {
		v = exp - c.Now
		if v < 0 {
			v = 0
		}
	}
	if !ms {
		// Redis rounds to the nearest second for EXPIRETIME as for TTL.
		v = (v + 500) / 1000
	}
	c.W.Int(v)
}

func ttlCommand(c *Ctx)         { ttlGeneric(c, false, false) }
func pttlCommand(c *Ctx)        { ttlGeneric(c, true, false) }
func expiretimeCommand(c *Ctx)  { ttlGeneric(c, false, true) }
func pexpiretimeCommand(c *Ctx) { ttlGeneric(c, true, true) }

func persistCommand(c *Ctx) {
	e := c.DB.LookupWrite(string(c.Args[1]))
	if e == nil || e.Expire() == 0 {
		c.W.Int(0)
		return
	}
	c.DB.SetExpire(e, 0)
	c.Modified(c.Args[1])
	c.Notify(NotifyGeneric, "persist", c.Args[1])
	c.W.Int(1)
}

func touchCommand(c *Ctx) {
	n := int64(0)
	for _, k := range c.Args[1:] {
		if c.DB.LookupRead(string(k)) != nil {
			n++
		}
	}
	c.W.Int(n)
}

// coreSummaries are the COMMAND DOCS summaries (from Redis 7.0) of the
// string and generic key commands; redis-cli shows them in HELP and hints.
var coreSummaries = map[string]string{
	"get":         "Get the value of a key",
	"set":         "Set the string value of a key",
	"setnx":       "Set the value of a key, only if the key does not exist",
	"setex":       "Set the value and expiration of a key",
	"psetex":      "Set the value and expiration in milliseconds of a key",
	"mget":        "Get the values of all the given keys",
	"mset":        "Set multiple keys to multiple values",
	"msetnx":      "Set multiple keys to multiple values, only if none of the keys exist",
	"getset":      "Set the string value of a key and return its old value",
	"getdel":      "Get the value of a key and delete the key",
	"getex":       "Get the value of a key and optionally set its expiration",
	"append":      "Append a value to a key",
	"strlen":      "Get the length of the value stored in a key",
	"getrange":    "Get a substring of the string stored at a key",
	"substr":      "Get a substring of the string stored at a key",
	"setrange":    "Overwrite part of a string at key starting at the specified offset",
	"incr":        "Increment the integer value of a key by one",
	"decr":        "Decrement the integer value of a key by one",
	"incrby":      "Increment the integer value of a key by the given amount",
	"decrby":      "Decrement the integer value of a key by the given number",
	"incrbyfloat": "Increment the float value of a key by the given amount",
	"lcs":         "Find longest common substring",
	"del":         "Delete a key",
	"unlink":      "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
	"exists":      "Determine if a key exists",
	"type":        "Determine the type stored at key",
	"rename":      "Rename a key",
	"renamenx":    "Rename a key, only if the new key does not exist",
	"keys":        "Find all keys matching the given pattern",
	"scan":        "Incrementally iterate the keys space",
	"randomkey":   "Return a random key from the keyspace",
	"dbsize":      "Return the number of keys in the selected database",
	"move":        "Move a key to another database",
	"copy":        "Copy a key",
	"expire":      "Set a key's time to live in seconds",
	"pexpire":     "Set a key's time to live in milliseconds",
	"expireat":    "Set the expiration for a key as a UNIX timestamp",
	"pexpireat":   "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
	"ttl":         "Get the time to live for a key in seconds",
	"pttl":        "Get the time to live for a key in milliseconds",
	"expiretime":  "Get the expiration Unix timestamp for a key",
	"pexpiretime": "Get the expiration Unix timestamp for a key in milliseconds",
	"persist":     "Remove the expiration from a key",
	"touch":       "Alters the last access time of a key(s). Returns the number of existing keys specified.",
}
