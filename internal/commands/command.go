// Package commands holds vigil's data commands, one file per family
// (strings.go, keys.go, hashes.go ...), and the command table they register
// into. Each command is data: name, arity, flags, key positions and a handler;
// the server's dispatcher checks arity, authentication, role and flags before
// a handler runs, so handlers only do their own work.
//
// Handlers run with the keyspace lock held and must not block: a blocking
// command asks to be parked through Ctx.Block and is re-run by the server when
// one of its keys is signalled ready. Commands that need server state (CLIENT,
// CONFIG, INFO, pub/sub, MULTI) live in package server and register into the
// same table.
package commands

import (
	"sort"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Flag describes a command for the dispatcher and for COMMAND INFO.
type Flag uint32

const (
	Write            Flag = 1 << iota // modifies data
	ReadOnly                          // reads data
	DenyOOM                           // refused with -OOM when over maxmemory
	Admin                             // administrative
	PubSub                            // pub/sub related
	NoScript                          // not allowed from Lua
	Blocking                          // may block the client
	Loading                           // allowed while loading the dataset
	Stale                             // allowed on a replica with a broken link (replica-serve-stale-data no)
	SkipMonitor                       // not shown to MONITOR
	SkipSlowlog                       // not logged in SLOWLOG
	Fast                              // O(1) or O(log N)
	NoAuth                            // allowed before AUTH
	MayReplicate                      // may replicate even if not a write (PUBLISH)
	NoMulti                           // not allowed inside MULTI
	AllowBusy                         // allowed while a script is busy
	Sentinel                          // also available in Sentinel mode
	OnlySentinel                      // only in Sentinel mode
	NoMandatoryKeys                   // keys optional
	AllowInSubscribe                  // allowed in RESP2 subscribed context
	// ReplOnly: propagated to replicas only, never to the AOF (PUBLISH,
	// SPUBLISH), like Redis's forceCommandPropagation(c, PROPAGATE_REPL).
	// Internal: not shown by COMMAND INFO.
	ReplOnly
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{Write, "write"}, {ReadOnly, "readonly"}, {DenyOOM, "denyoom"}, {Admin, "admin"},
	{PubSub, "pubsub"}, {NoScript, "noscript"}, {Blocking, "blocking"}, {Loading, "loading"},
	{Stale, "stale"}, {SkipMonitor, "skip_monitor"}, {SkipSlowlog, "skip_slowlog"},
	{Fast, "fast"}, {NoAuth, "no_auth"}, {MayReplicate, "may_replicate"}, {NoMulti, "no_multi"},
	{AllowBusy, "allow_busy"}, {NoMandatoryKeys, "no_mandatory_keys"},
}

// Names returns the flag names COMMAND INFO prints.
func (f Flag) Names() []string {
	var out []string
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			out = append(out, fn.name)
		}
	}
	return out
}

// Command is one entry of the command table.
type Command struct {
	Name     string // lower case; "config|get" for subcommands
	Arity    int    // >0 exact, <0 minimum (like Redis, the name counts)
	Flags    Flag
	FirstKey int // 0 when the command takes no key
	LastKey  int // -1 = last argument, -2 = one before the last ...
	Step     int
	// Keys returns the indexes of key arguments for commands whose keys can't
	// be described by FirstKey/LastKey/Step (EVAL, ZUNIONSTORE, XREAD ...).
	Keys       func(args [][]byte) []int
	Proc       func(c *Ctx)
	Group      string // "string", "generic", "hash" ... for COMMAND DOCS
	Since      string
	Summary    string
	Categories string // "@write @string @fast" for COMMAND INFO's ACL categories
	Sub        map[string]*Command
	Parent     *Command
}

// FullName is the name COMMAND and errors use ("config|get" for subcommands).
func (c *Command) FullName() string {
	if c.Parent != nil {
		return c.Parent.Name + "|" + c.Name
	}
	return c.Name
}

// KeyIndexes returns the positions of the key arguments in args.
func (c *Command) KeyIndexes(args [][]byte) []int {
	if c.Keys != nil {
		return c.Keys(args)
	}
	if c.FirstKey <= 0 {
		return nil
	}
	last := c.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := c.Step
	if step <= 0 {
		step = 1
	}
	var out []int
	for i := c.FirstKey; i <= last && i < len(args); i += step {
		out = append(out, i)
	}
	return out
}

// Table is the command table, keyed by lower-case name.
var Table = map[string]*Command{}

// Register adds commands to the table; called from init functions.
func Register(cmds ...*Command) {
	for _, c := range cmds {
		if c.Step == 0 && c.FirstKey > 0 {
			c.Step = 1
		}
		Table[c.Name] = c
		upperTable[strings.ToUpper(c.Name)] = c
		for _, s := range c.Sub {
			s.Parent = c
			if s.Step == 0 && s.FirstKey > 0 {
				s.Step = 1
			}
		}
	}
}

// upperTable indexes the table by upper-case name too: clients such as
// redis-benchmark and most libraries send upper case, and one map hit is
// cheaper than lower-casing on every command.
var upperTable = map[string]*Command{}

// Lookup finds a command by its (case-insensitive) name.
func Lookup(name []byte) *Command {
	if c, ok := Table[string(name)]; ok {
		return c
	}
	if c, ok := upperTable[string(name)]; ok {
		return c
	}
	var buf [32]byte
	if len(name) <= len(buf) {
		b := buf[:len(name)]
		for i, ch := range name {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			b[i] = ch
		}
		return Table[string(b)]
	}
	return Table[strings.ToLower(string(name))]
}

// Sorted returns the table sorted by name.
func Sorted() []*Command {
	out := make([]*Command, 0, len(Table))
	for _, c := range Table {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Keyspace event classes (notify-keyspace-events letters).
const (
	NotifyKeyspace = 1 << iota // K
	NotifyKeyevent             // E
	NotifyGeneric              // g
	NotifyString               // $
	NotifyList                 // l
	NotifySet                  // s
	NotifyHash                 // h
	NotifyZSet                 // z
	NotifyExpired              // x
	NotifyEvicted              // e
	NotifyStream               // t
	NotifyKeyMiss              // m
	NotifyModule               // d
	NotifyNew                  // n
	NotifyAll      = NotifyGeneric | NotifyString | NotifyList | NotifySet | NotifyHash | NotifyZSet | NotifyExpired | NotifyEvicted | NotifyStream | NotifyModule
)

// Server is what data commands need from the server around them.
type Server interface {
	// Notify publishes a keyspace event (if enabled for class).
	Notify(class int, event string, key []byte, db int)
	// SignalModifiedKey invalidates WATCHes on key.
	SignalModifiedKey(db int, key []byte)
	// SignalKeyReady wakes clients blocked on key (list/zset pushes).
	SignalKeyReady(db int, key []byte)
	// Setting reads a numeric config value by name (encodings thresholds ...).
	Setting(name string) int64
}

// Client is what data commands need from the calling client.
type Client interface {
	ID() int64
	// InMulti reports whether the command runs inside EXEC or a script, where
	// blocking commands must not block.
	NoBlock() bool
	// SelectDB switches the client's current database.
	SelectDB(id int) error
}

// BlockRequest asks the server to park a client until a key is ready.
type BlockRequest struct {
	Keys    [][]byte
	Timeout time.Duration // 0 = forever
	// OnTimeout writes the timeout reply (null array for BLPOP ...).
	OnTimeout func(w *resp.Writer)
}

// Ctx is the context one command runs in.
type Ctx struct {
	Args   [][]byte
	W      *resp.Writer
	DB     *keyspace.DB
	KS     *keyspace.Keyspace
	Cmd    *Command
	Srv    Server
	Client Client
	// Now is the command's clock (unix ms); one command sees one time.
	Now int64
	// Dirty counts modifications; a write command with Dirty > 0 is
	// propagated to replicas and the AOF.
	Dirty int
	// Propagate, when set, replaces the command's own argv in the
	// replication stream (EXPIRE -> PEXPIREAT, SET EX -> SET PXAT ...).
	// Several entries propagate as several commands (wrapped in MULTI when
	// more than one, like Redis).
	Propagate [][][]byte
	// NoPropagate suppresses propagation even though Dirty > 0.
	NoPropagate bool
	// Block is set by a blocking command that found nothing to serve.
	Block *BlockRequest
	// Scratch for handlers, reused between commands.
	Scratch []byte
}

// Reset prepares the context for the next command.
func (c *Ctx) Reset() {
	c.Dirty = 0
	c.Propagate = c.Propagate[:0]
	c.NoPropagate = false
	c.Block = nil
}

// Arg returns argument i as a string.
func (c *Ctx) Arg(i int) string { return string(c.Args[i]) }

// Key returns argument i as a key string.
func (c *Ctx) Key(i int) string { return string(c.Args[i]) }

// AddPropagate appends a command to propagate instead of the original.
func (c *Ctx) AddPropagate(args ...[]byte) { c.Propagate = append(c.Propagate, args) }

// Modified marks key as written: counts the change, invalidates WATCHes and
// wakes blocked clients, as Redis's signalModifiedKey + server.dirty++.
func (c *Ctx) Modified(key []byte) {
	c.Dirty++
	c.Srv.SignalModifiedKey(c.DB.ID, key)
}

// Notify publishes a keyspace event for key in the current database.
func (c *Ctx) Notify(class int, event string, key []byte) {
	c.Srv.Notify(class, event, key, c.DB.ID)
}

// ReplaceTable installs a different command table (Sentinel mode keeps only
// its own commands) and rebuilds the case index.
func ReplaceTable(t map[string]*Command) {
	Table = t
	upperTable = map[string]*Command{}
	for name, c := range t {
		upperTable[strings.ToUpper(name)] = c
	}
}

// lookupRead finds key for reading as a collection of type t: (zero, true)
// when missing, (zero, false) after replying WRONGTYPE. Every collection
// family's xxxLookupRead is this with its type.
func lookupRead[T keyspace.Collection](c *Ctx, key []byte, t keyspace.Type) (T, bool) {
	var zero T
	e := c.DB.LookupRead(string(key))
	if e == nil {
		return zero, true
	}
	if e.Type != t {
		c.W.Error(ErrWrongType)
		return zero, false
	}
	return e.Coll.(T), true
}

// lookupWrite is lookupRead for a value about to be modified in place
// (through DB.LookupWrite, which copies entries a snapshot still reads).
func lookupWrite[T keyspace.Collection](c *Ctx, key []byte, t keyspace.Type) (*keyspace.Entry, T, bool) {
	var zero T
	e := c.DB.LookupWrite(string(key))
	if e == nil {
		return nil, zero, true
	}
	if e.Type != t {
		c.W.Error(ErrWrongType)
		return nil, zero, false
	}
	return e, e.Coll.(T), true
}
