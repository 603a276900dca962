package persist

import (
	"errors"
	"strconv"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/server"
)

// DUMP and RESTORE (Redis's cluster.c dumpCommand / restoreCommand).
//
// The payload is the value's RDB encoding + RDB version + CRC64, produced
// and checked by rdb.DumpValue / rdb.RestoreValue, so payloads move freely
// between vigil and redis-server 7.0 in both directions.

func init() {
	commands.Register(
		&commands.Command{Name: "dump", Arity: 2, Flags: commands.ReadOnly, FirstKey: 1, LastKey: 1, Proc: dumpCommand, Group: "generic", Since: "2.6.0", Categories: "@keyspace @read @slow"},
		&commands.Command{Name: "restore", Arity: -4, Flags: commands.Write | commands.DenyOOM, FirstKey: 1, LastKey: 1, Proc: restoreCommand, Group: "generic", Since: "2.6.0", Categories: "@keyspace @write @slow @dangerous"},
	)
}

// dumpOptions are the encoding options of the running server (rdbcompression
// and the listpack/intset thresholds), or Redis's defaults.
func dumpOptions(ctx *commands.Ctx) rdb.Options {
	if st := Of(server.ServerOf(ctx)); st != nil {
		o := st.writeOptions()
		return rdb.Options{Compress: o.Compress, Checksum: true, Thresholds: o.Thresholds}
	}
	return rdb.Options{Compress: true, Checksum: true}
}

func dumpCommand(ctx *commands.Ctx) {
	e := ctx.DB.LookupRead(string(ctx.Args[1]))
	if e == nil {
		ctx.W.Null()
		return
	}
	v, err := ToRDBValue(e)
	if err != nil {
		ctx.W.Error("ERR " + err.Error())
		return
	}
	p := rdb.DumpValue(&v, dumpOptions(ctx))
	if p == nil {
		ctx.W.Error("ERR DUMP failed to encode the value")
		return
	}
	ctx.W.Bulk(p)
}

func restoreCommand(ctx *commands.Ctx) {
	key := ctx.Args[1]
	replace, absttl := false, false
	var lruIdle, lfuFreq int64 = -1, -1
	for j := 4; j < len(ctx.Args); j++ {
		additional := len(ctx.Args) - j - 1
		a := ctx.Args[j]
		switch {
		case commands.EqualFold(a, "replace"):
			replace = true
		case commands.EqualFold(a, "absttl"):
			absttl = true
		case commands.EqualFold(a, "idletime") && additional >= 1 && lfuFreq == -1:
			n, ok := commands.ParseInt(ctx.Args[j+1])
			if !ok {
				ctx.W.Error(commands.ErrNotInt)
				return
			}
			if n < 0 {
				ctx.W.Error("ERR Invalid IDLETIME value, must be >= 0")
				return
			}
			lruIdle = n
			j++
		case commands.EqualFold(a, "freq") && additional >= 1 && lruIdle == -1:
			n, ok := commands.ParseInt(ctx.Args[j+1])
			if !ok {
				ctx.W.Error(commands.ErrNotInt)
				return
			}
			if n < 0 || n > 255 {
				ctx.W.Error("ERR Invalid FREQ value, must be >= 0 and <= 255")
				return
			}
			lfuFreq = n
			j++
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	if !replace && ctx.DB.LookupWrite(string(key)) != nil {
		ctx.W.Error("BUSYKEY Target key name already exists.")
		return
	}
	ttl, ok := commands.ParseInt(ctx.Args[2])
	if !ok {
		ctx.W.Error(commands.ErrNotInt)
		return
	}
	if ttl < 0 {
		ctx.W.Error("ERR Invalid TTL value, must be >= 0")
		return
	}
	v, err := rdb.RestoreValue(ctx.Args[3])
	if err != nil {
		if errors.Is(err, rdb.ErrDumpPayload) {
			ctx.W.Error("ERR DUMP payload version or checksum are wrong")
		} else {
			ctx.W.Error("ERR Bad data format")
		}
		return
	}
	// Redis refuses empty collections in a payload (RDB_LOAD_ERR_EMPTY_KEY).
	if (v.Type == rdb.TypeList && len(v.List) == 0) || (v.Type == rdb.TypeSet && len(v.Set) == 0) ||
		(v.Type == rdb.TypeZSet && len(v.ZSet) == 0) || (v.Type == rdb.TypeHash && len(v.Hash) == 0) {
		ctx.W.Error("ERR Bad data format")
		return
	}
	ent, err := FromRDBValue(string(key), v)
	if err != nil {
		ctx.W.Error("ERR Bad data format")
		return
	}
	deleted := false
	if replace {
		deleted = ctx.DB.Delete(string(key))
	}
	if ttl != 0 && !absttl {
		ttl += ctx.Now
	}
	if ttl != 0 && ttl <= ctx.Now && !ctx.KS.NoExpireDelete {
		// Already expired: the key is not created; a replaced key is gone,
		// which replicates as DEL.
		if deleted {
			ctx.Modified(key)
			ctx.Notify(commands.NotifyGeneric, "del", key)
			ctx.AddPropagate([]byte("DEL"), key)
		}
		ctx.W.OK()
		return
	}
	ctx.DB.Add(ent)
	if ttl != 0 {
		ctx.DB.SetExpire(ent, ttl)
		if !absttl {
			// Propagate the TTL as an absolute time, like Redis.
			args := make([][]byte, 0, len(ctx.Args)+1)
			args = append(args, ctx.Args[0], key, []byte(strconv.FormatInt(ttl, 10)))
			args = append(args, ctx.Args[3:]...)
			args = append(args, []byte("ABSTTL"))
			ctx.AddPropagate(args...)
		}
	}
	ks := ctx.KS
	if ks.Evict.LFU {
		if lfuFreq >= 0 {
			ent.SetClock((ent.Clock() &^ 0xff) | uint32(lfuFreq))
		}
	} else if lruIdle >= 0 {
		ent.SetClock(ks.ClockForIdle(lruIdle))
	}
	ctx.Modified(key)
	ctx.Notify(commands.NotifyGeneric, "restore", key)
	ctx.W.OK()
}
