package server

import (
	"sort"
	"strings"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// COMMAND and its subcommands, from the command table.

func visibleCommands(s *Server) []*commands.Command {
	var out []*commands.Command
	for _, c := range commands.Sorted() {
		if s.Sentinel != nil {
			if c.Flags&(commands.Sentinel|commands.OnlySentinel) == 0 {
				continue
			}
		} else if c.Flags&commands.OnlySentinel != 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

func writeCommandInfo(w *resp.Writer, c *commands.Command) {
	w.ArrayLen(10)
	w.BulkString(c.FullName())
	w.Int(int64(c.Arity))
	flags := c.Flags.Names()
	w.SetLen(len(flags))
	for _, f := range flags {
		w.Simple(f)
	}
	first, last, step := c.FirstKey, c.LastKey, c.Step
	if c.Keys != nil && first == 0 {
		first, last, step = 0, 0, 0
	}
	w.Int(int64(first))
	w.Int(int64(last))
	w.Int(int64(step))
	cats := strings.Fields(c.Categories)
	w.SetLen(len(cats))
	for _, cat := range cats {
		w.Simple(cat)
	}
	w.ArrayLen(0) // tips
	if first > 0 {
		// One key spec describing the range, enough for clients that route by it.
		w.ArrayLen(1)
		w.MapLen(3)
		w.BulkString("flags")
		w.SetLen(0)
		w.BulkString("begin_search")
		w.MapLen(2)
		w.BulkString("type")
		w.BulkString("index")
		w.BulkString("spec")
		w.MapLen(1)
		w.BulkString("index")
		w.Int(int64(first))
		w.BulkString("find_keys")
		w.MapLen(2)
		w.BulkString("type")
		w.BulkString("range")
		w.BulkString("spec")
		w.MapLen(3)
		w.BulkString("lastkey")
		lk := int64(0)
		if last < 0 {
			lk = int64(last)
		} else {
			lk = int64(last - first)
		}
		w.Int(lk)
		w.BulkString("keystep")
		w.Int(int64(step))
		w.BulkString("limit")
		w.Int(0)
	} else {
		w.ArrayLen(0)
	}
	subs := sortedSubs(c)
	w.ArrayLen(len(subs))
	for _, sc := range subs {
		writeCommandInfo(w, sc)
	}
}

func sortedSubs(c *commands.Command) []*commands.Command {
	var subs []*commands.Command
	for _, sc := range c.Sub {
		subs = append(subs, sc)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	return subs
}

func commandCommand(ctx *commands.Ctx) {
	if len(ctx.Args) > 1 {
		ctx.W.Error("ERR unknown subcommand '" + sanitize(truncate(string(ctx.Args[1]), 128)) + "'. Try COMMAND HELP.")
		return
	}
	cmds := visibleCommands(cl(ctx).srv)
	ctx.W.ArrayLen(len(cmds))
	for _, c := range cmds {
		writeCommandInfo(ctx.W, c)
	}
}

func commandCountCommand(ctx *commands.Ctx) {
	ctx.W.Int(int64(len(visibleCommands(cl(ctx).srv))))
}

func lookupFull(name string) *commands.Command {
	parts := strings.SplitN(strings.ToLower(name), "|", 2)
	c := commands.Table[parts[0]]
	if c == nil || len(parts) == 1 {
		return c
	}
	return c.Sub[parts[1]]
}

func commandInfoCommand(ctx *commands.Ctx) {
	if len(ctx.Args) == 2 {
		commandCommand(&commands.Ctx{Args: ctx.Args[:1], W: ctx.W, Client: ctx.Client})
		return
	}
	ctx.W.ArrayLen(len(ctx.Args) - 2)
	for _, a := range ctx.Args[2:] {
		c := lookupFull(string(a))
		if c == nil {
			ctx.W.Null()
			continue
		}
		writeCommandInfo(ctx.W, c)
	}
}

func writeCommandDocs(w *resp.Writer, c *commands.Command) {
	n := 3
	subs := sortedSubs(c)
	if len(subs) > 0 {
		n++
	}
	if c.Summary != "" {
		n++
	}
	w.MapLen(n)
	if c.Summary != "" {
		w.BulkString("summary")
		w.BulkString(c.Summary)
	}
	since := c.Since
	group := c.Group
	if c.Parent != nil {
		if since == "" {
			since = c.Parent.Since
		}
		if group == "" {
			group = c.Parent.Group
		}
	}
	if since == "" {
		since = "1.0.0"
	}
	if group == "" {
		group = "generic"
	}
	w.BulkString("since")
	w.BulkString(since)
	w.BulkString("group")
	w.BulkString(group)
	w.BulkString("complexity")
	w.BulkString("")
	if len(subs) > 0 {
		w.BulkString("subcommands")
		w.MapLen(len(subs))
		for _, sc := range subs {
			w.BulkString(sc.FullName())
			writeCommandDocs(w, sc)
		}
	}
}

func commandDocsCommand(ctx *commands.Ctx) {
	var cmds []*commands.Command
	if len(ctx.Args) == 2 {
		cmds = visibleCommands(cl(ctx).srv)
	} else {
		for _, a := range ctx.Args[2:] {
			if c := lookupFull(string(a)); c != nil {
				cmds = append(cmds, c)
			}
		}
	}
	ctx.W.MapLen(len(cmds))
	for _, c := range cmds {
		ctx.W.BulkString(c.FullName())
		writeCommandDocs(ctx.W, c)
	}
}

func commandListCommand(ctx *commands.Ctx) {
	var out []string
	var filter func(c *commands.Command) bool
	if len(ctx.Args) > 2 {
		if len(ctx.Args) != 5 || !commands.EqualFold(ctx.Args[2], "filterby") {
			ctx.W.Error(commands.ErrSyntax)
			return
		}
		v := string(ctx.Args[4])
		switch {
		case commands.EqualFold(ctx.Args[3], "module"):
			filter = func(*commands.Command) bool { return false }
		case commands.EqualFold(ctx.Args[3], "aclcat"):
			filter = func(c *commands.Command) bool {
				for _, cat := range strings.Fields(c.Categories) {
					if strings.EqualFold(strings.TrimPrefix(cat, "@"), v) {
						return true
					}
				}
				return false
			}
		case commands.EqualFold(ctx.Args[3], "pattern"):
			filter = func(c *commands.Command) bool {
				return commands.Match([]byte(v), []byte(c.FullName()), true)
			}
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	for _, c := range visibleCommands(cl(ctx).srv) {
		if filter == nil || filter(c) {
			out = append(out, c.FullName())
		}
		for _, sc := range sortedSubs(c) {
			if filter == nil || filter(sc) {
				out = append(out, sc.FullName())
			}
		}
	}
	ctx.W.ArrayLen(len(out))
	for _, n := range out {
		ctx.W.BulkString(n)
	}
}

func commandGetkeysCommand(ctx *commands.Ctx) {
	args := ctx.Args[2:]
	base, sub := lookupCommand(args)
	c := base
	if sub != nil {
		c = sub
	}
	if c == nil {
		ctx.W.Error("ERR Invalid command specified")
		return
	}
	if (c.Arity > 0 && len(args) != c.Arity) || len(args) < -c.Arity {
		ctx.W.Error("ERR Invalid number of arguments specified for command")
		return
	}
	idx := c.KeyIndexes(args)
	if len(idx) == 0 {
		ctx.W.Error("ERR The command has no key arguments")
		return
	}
	ctx.W.ArrayLen(len(idx))
	for _, i := range idx {
		ctx.W.Bulk(args[i])
	}
}

func commandHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "COMMAND", []string{
		"(no subcommand)", "    Return details about all Redis commands.",
		"COUNT", "    Return the total number of commands in this Redis server.",
		"LIST", "    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>", "    Return the keys from a full Redis command.",
		"GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
	})
}
