package server

import (
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Pub/Sub (Redis's pubsub.c) and keyspace notifications (notify.c).

type pubsubState struct {
	channels map[string][]*Client // in subscription order, like Redis's lists
	patterns map[string][]*Client
	shard    map[string][]*Client
}

func (p *pubsubState) init() {
	p.channels = map[string][]*Client{}
	p.patterns = map[string][]*Client{}
	p.shard = map[string][]*Client{}
}

func init() {
	commands.Register(
		&commands.Command{Name: "subscribe", Arity: -2, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, Proc: subscribeCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "unsubscribe", Arity: -1, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, Proc: unsubscribeCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "psubscribe", Arity: -2, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, Proc: psubscribeCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "punsubscribe", Arity: -1, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, Proc: punsubscribeCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "ssubscribe", Arity: -2, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, FirstKey: 1, LastKey: -1, Proc: ssubscribeCommand, Group: "pubsub", Since: "7.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "sunsubscribe", Arity: -1, Flags: commands.PubSub | commands.NoScript | commands.Loading | commands.Stale, FirstKey: 1, LastKey: -1, Proc: sunsubscribeCommand, Group: "pubsub", Since: "7.0.0", Categories: "@pubsub @slow"},
		&commands.Command{Name: "publish", Arity: 3, Flags: commands.PubSub | commands.Loading | commands.Stale | commands.Fast | commands.MayReplicate | commands.ReplOnly, Proc: publishCommand, Group: "pubsub", Since: "2.0.0", Categories: "@pubsub @fast"},
		&commands.Command{Name: "spublish", Arity: 3, Flags: commands.PubSub | commands.Loading | commands.Stale | commands.Fast | commands.MayReplicate | commands.ReplOnly, FirstKey: 1, LastKey: 1, Proc: spublishCommand, Group: "pubsub", Since: "7.0.0", Categories: "@pubsub @fast"},
		&commands.Command{Name: "pubsub", Arity: -2, Group: "pubsub", Since: "2.8.0", Categories: "@slow", Sub: map[string]*commands.Command{
			"channels":      {Name: "channels", Arity: -2, Flags: commands.PubSub | commands.Loading | commands.Stale, Proc: pubsubChannelsCommand, Categories: "@pubsub @slow"},
			"numsub":        {Name: "numsub", Arity: -2, Flags: commands.PubSub | commands.Loading | commands.Stale, Proc: pubsubNumsubCommand, Categories: "@pubsub @slow"},
			"numpat":        {Name: "numpat", Arity: 2, Flags: commands.PubSub | commands.Loading | commands.Stale, Proc: pubsubNumpatCommand, Categories: "@pubsub @slow"},
			"shardchannels": {Name: "shardchannels", Arity: -2, Flags: commands.PubSub | commands.Loading | commands.Stale, Proc: pubsubShardChannelsCommand, Categories: "@pubsub @slow"},
			"shardnumsub":   {Name: "shardnumsub", Arity: -2, Flags: commands.PubSub | commands.Loading | commands.Stale, Proc: pubsubShardNumsubCommand, Categories: "@pubsub @slow"},
			"help":          {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: pubsubHelpCommand, Categories: "@slow"},
		}},
	)
}

func cl(c *commands.Ctx) *Client { return c.Client.(*Client) }

func (c *Client) subCount() int { return len(c.channels) + len(c.patterns) + len(c.shardChannels()) }

func (c *Client) shardChannels() map[string]struct{} {
	if c.shard == nil {
		return nil
	}
	return c.shard
}

func writeSubReply(w *resp.Writer, kind string, ch []byte, null bool, count int) {
	w.PushLen(3)
	w.BulkString(kind)
	if null {
		w.Null()
	} else {
		w.Bulk(ch)
	}
	w.Int(int64(count))
}

func subscribeGeneric(ctx *commands.Ctx, kind string, set *map[string]struct{}, index map[string][]*Client) {
	c := cl(ctx)
	if c.flags&flagMulti != 0 {
		// Allowed inside MULTI only for RESP3; Redis 7.0 refuses in RESP2? It allows. Keep going.
	}
	if *set == nil {
		*set = map[string]struct{}{}
	}
	for _, ch := range ctx.Args[1:] {
		k := string(ch)
		if _, ok := (*set)[k]; !ok {
			(*set)[k] = struct{}{}
			index[k] = append(index[k], c)
		}
		writeSubReply(ctx.W, kind, ch, false, c.subCount())
	}
	c.flags |= flagPubSub
}

func unsubscribeGeneric(ctx *commands.Ctx, kind string, set *map[string]struct{}, index map[string][]*Client) {
	c := cl(ctx)
	var names []string
	if len(ctx.Args) == 1 {
		for k := range *set {
			names = append(names, k)
		}
		sort.Strings(names)
		if len(names) == 0 {
			writeSubReply(ctx.W, kind, nil, true, c.subCount())
			return
		}
	} else {
		for _, a := range ctx.Args[1:] {
			names = append(names, string(a))
		}
	}
	for _, k := range names {
		if _, ok := (*set)[k]; ok {
			delete(*set, k)
			removeClient(index, k, c)
		}
		writeSubReply(ctx.W, kind, []byte(k), false, c.subCount())
	}
	if c.subCount() == 0 {
		c.flags &^= flagPubSub
	}
}

func removeClient(index map[string][]*Client, k string, c *Client) {
	l := index[k]
	for i, x := range l {
		if x == c {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(index, k)
	} else {
		index[k] = l
	}
}

func subscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	subscribeGeneric(ctx, "subscribe", &c.channels, c.srv.pubsub.channels)
}
func unsubscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	unsubscribeGeneric(ctx, "unsubscribe", &c.channels, c.srv.pubsub.channels)
}
func psubscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	subscribeGeneric(ctx, "psubscribe", &c.patterns, c.srv.pubsub.patterns)
}
func punsubscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	unsubscribeGeneric(ctx, "punsubscribe", &c.patterns, c.srv.pubsub.patterns)
}
func ssubscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	subscribeGeneric(ctx, "ssubscribe", &c.shard, c.srv.pubsub.shard)
}
func sunsubscribeCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	unsubscribeGeneric(ctx, "sunsubscribe", &c.shard, c.srv.pubsub.shard)
}

// pubsubUnsubscribeAll drops every subscription of c (disconnect, RESET).
func (s *Server) pubsubUnsubscribeAll(c *Client, _ bool) {
	for k := range c.channels {
		removeClient(s.pubsub.channels, k, c)
	}
	for k := range c.patterns {
		removeClient(s.pubsub.patterns, k, c)
	}
	for k := range c.shard {
		removeClient(s.pubsub.shard, k, c)
	}
	c.channels, c.patterns, c.shard = nil, nil, nil
	c.flags &^= flagPubSub
}

// Publish delivers msg on channel and returns the number of receivers.
func (s *Server) Publish(channel, msg []byte) int {
	n := 0
	for _, sub := range s.pubsub.channels[string(channel)] {
		s.deliver(sub, func(w *resp.Writer) {
			w.PushLen(3)
			w.BulkString("message")
			w.Bulk(channel)
			w.Bulk(msg)
		})
		n++
	}
	for pat, subs := range s.pubsub.patterns {
		if !commands.Match([]byte(pat), channel, false) {
			continue
		}
		for _, sub := range subs {
			s.deliver(sub, func(w *resp.Writer) {
				w.PushLen(4)
				w.BulkString("pmessage")
				w.BulkString(pat)
				w.Bulk(channel)
				w.Bulk(msg)
			})
			n++
		}
	}
	return n
}

// deliver encodes a push for sub in its protocol and queues it. A client
// publishing to itself gets the push in its current reply stream so the
// order within its pipeline holds.
func (s *Server) deliver(sub *Client, enc func(w *resp.Writer)) {
	if sub == s.current {
		enc(&sub.w)
		return
	}
	w := resp.Writer{Proto: sub.proto}
	enc(&w)
	sub.push(w.Buf)
}

func publishCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	n := s.Publish(ctx.Args[1], ctx.Args[2])
	// PUBLISH is propagated so replicas' subscribers get it too.
	ctx.Dirty++
	ctx.W.Int(int64(n))
}

func spublishCommand(ctx *commands.Ctx) {
	s := cl(ctx).srv
	n := 0
	for _, sub := range s.pubsub.shard[string(ctx.Args[1])] {
		ch, msg := ctx.Args[1], ctx.Args[2]
		s.deliver(sub, func(w *resp.Writer) {
			w.PushLen(3)
			w.BulkString("smessage")
			w.Bulk(ch)
			w.Bulk(msg)
		})
		n++
	}
	ctx.Dirty++
	ctx.W.Int(int64(n))
}

func listChannels(ctx *commands.Ctx, index map[string][]*Client) {
	var pat []byte
	if len(ctx.Args) > 3 {
		ctx.W.Error(commands.WrongArity(ctx.Cmd.FullName()))
		return
	}
	if len(ctx.Args) == 3 {
		pat = ctx.Args[2]
	}
	var out []string
	for k := range index {
		if pat == nil || commands.Match(pat, []byte(k), false) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	ctx.W.ArrayLen(len(out))
	for _, k := range out {
		ctx.W.BulkString(k)
	}
}

func pubsubChannelsCommand(ctx *commands.Ctx) { listChannels(ctx, cl(ctx).srv.pubsub.channels) }
func pubsubShardChannelsCommand(ctx *commands.Ctx) {
	listChannels(ctx, cl(ctx).srv.pubsub.shard)
}

// numsub replies channel/count pairs as a flat array, in RESP3 too (as
// Redis 7.0 does).
func numsub(ctx *commands.Ctx, index map[string][]*Client, asMap bool) {
	if asMap {
		ctx.W.MapLen(len(ctx.Args) - 2)
	} else {
		ctx.W.ArrayLen(2 * (len(ctx.Args) - 2))
	}
	for _, ch := range ctx.Args[2:] {
		ctx.W.Bulk(ch)
		ctx.W.Int(int64(len(index[string(ch)])))
	}
}

func pubsubNumsubCommand(ctx *commands.Ctx)      { numsub(ctx, cl(ctx).srv.pubsub.channels, false) }
func pubsubShardNumsubCommand(ctx *commands.Ctx) { numsub(ctx, cl(ctx).srv.pubsub.shard, false) }
func pubsubNumpatCommand(ctx *commands.Ctx) {
	ctx.W.Int(int64(len(cl(ctx).srv.pubsub.patterns)))
}

func pubsubHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "PUBSUB", []string{
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
	})
}

// writeHelp writes a HELP reply in Redis's shape.
func writeHelp(w *resp.Writer, cmd string, lines []string) {
	all := append([]string{cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"}, lines...)
	all = append(all, "HELP", "    Prints this help.")
	w.ArrayLen(len(all))
	for _, l := range all {
		w.Simple(l)
	}
}

// parseNotifyFlags parses notify-keyspace-events.
func parseNotifyFlags(s string) int {
	f := 0
	for _, ch := range s {
		switch ch {
		case 'A':
			f |= commands.NotifyAll
		case 'g':
			f |= commands.NotifyGeneric
		case '$':
			f |= commands.NotifyString
		case 'l':
			f |= commands.NotifyList
		case 's':
			f |= commands.NotifySet
		case 'h':
			f |= commands.NotifyHash
		case 'z':
			f |= commands.NotifyZSet
		case 'x':
			f |= commands.NotifyExpired
		case 'e':
			f |= commands.NotifyEvicted
		case 'K':
			f |= commands.NotifyKeyspace
		case 'E':
			f |= commands.NotifyKeyevent
		case 't':
			f |= commands.NotifyStream
		case 'm':
			f |= commands.NotifyKeyMiss
		case 'd':
			f |= commands.NotifyModule
		case 'n':
			f |= commands.NotifyNew
		}
	}
	return f
}

// Notify implements commands.Server: keyspace notifications.
func (s *Server) Notify(class int, event string, key []byte, db int) {
	f := s.notifyFlags
	if f&class == 0 || f&(commands.NotifyKeyspace|commands.NotifyKeyevent) == 0 {
		return
	}
	dbs := strconv.Itoa(db)
	if f&commands.NotifyKeyspace != 0 {
		ch := "__keyspace@" + dbs + "__:" + string(key)
		s.Publish([]byte(ch), []byte(event))
	}
	if f&commands.NotifyKeyevent != 0 {
		ch := "__keyevent@" + dbs + "__:" + event
		s.Publish([]byte(ch), key)
	}
}

var _ = strings.ToLower
