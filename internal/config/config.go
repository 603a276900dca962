package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// RedisVersion is the version vigil reports in config errors.
const RedisVersion = "7.0.15"

// LoadError is a configuration error, formatted exactly like redis-server's.
type LoadError struct {
	File   string // file name as given ("" for command line arguments)
	Line   int    // 1-based; 0 means the file could not be opened
	Text   string // the offending line (trimmed)
	Reason string
}

func (e *LoadError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("Fatal error, can't open config file '%s': %s", e.File, e.Reason)
	}
	return fmt.Sprintf("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\nReading the configuration file, at line %d\n>>> '%s'\n%s", RedisVersion, e.Line, e.Text, e.Reason)
}

// Where describes the location in vigil's own wording, for logs:
// "in /etc/redis/redis.conf at line 3" or "in the command line arguments".
func (e *LoadError) Where() string {
	if e.File == "" {
		return "in the command line arguments"
	}
	if e.Line == 0 {
		return "in " + e.File
	}
	return fmt.Sprintf("in %s at line %d", e.File, e.Line)
}

// Line is one "sentinel ..." line of a sentinel configuration.
type Line struct {
	File string
	Line int
	Args []string // without the leading "sentinel"
}

type entry struct {
	name string // canonical name or alias
	d    *Directive
}

// Config holds the typed current value of every directive. It is safe for
// concurrent use.
type Config struct {
	mu        sync.RWMutex
	sentinel  bool
	table     []*Directive
	byName    map[string]entry
	entries   []entry // names and aliases in table order (for CONFIG GET)
	vals      []value
	defs      []value
	explicit  []bool
	hooks     map[int][]func(old, new string) error
	file      string
	mainLines int
	depth     int

	saveLoaded bool
	renames    map[string]string
	users      [][]string
	modules    [][]string
	sentLines  []Line
	noInclude  bool // fuzzing: include is refused
	noSync     bool // fuzzing: no fsync in Rewrite

	// CommandExists, when set, validates rename-command's source command
	// (Redis: "No such command in rename-command").
	CommandExists func(name string) bool
}

// NewServer returns a Config for redis-server mode with all defaults applied.
func NewServer() *Config {
	c := &Config{
		table:   serverTable(),
		byName:  map[string]entry{},
		hooks:   map[int][]func(old, new string) error{},
		renames: map[string]string{},
	}
	c.vals = make([]value, len(c.table))
	c.defs = make([]value, len(c.table))
	c.explicit = make([]bool, len(c.table))
	for _, d := range c.table {
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			e := entry{name: n, d: d}
			c.byName[n] = e
			if !d.Hidden {
				c.entries = append(c.entries, e)
			}
		}
		if d.Hidden {
			continue
		}
		var v value
		var err error
		if d.Name != "replicaof" {
			v, err = c.parseValue(d, value{}, splitSetValue(d, d.Default), false)
		}
		if err != nil {
			panic("config: bad default for " + d.Name + ": " + err.Error())
		}
		c.vals[d.index], c.defs[d.index] = v, v
	}
	return c
}

// NewSentinel returns a Config for sentinel mode: "sentinel ..." lines are
// collected, port defaults to 26379 and protected-mode to no (as Redis's
// sentinel does; the table defaults, used by CONFIG REWRITE, stay Redis's).
func NewSentinel() *Config {
	c := NewServer()
	c.sentinel = true
	c.set("port", "26379")
	c.set("protected-mode", "no")
	return c
}

func (c *Config) set(name, val string) {
	d := c.byName[name].d
	v, err := c.parseValue(d, c.vals[d.index], splitSetValue(d, val), false)
	if err != nil {
		panic(err)
	}
	c.vals[d.index] = v
}

// Sentinel reports whether c is in sentinel mode.
func (c *Config) Sentinel() bool { return c.sentinel }

// Directives returns the table (do not modify).
func (c *Config) Directives() []*Directive { return c.table }

// splitSetValue turns a CONFIG SET / default value into arguments.
func splitSetValue(d *Directive, s string) []string {
	if (d.Kind == Special && d.Name != "notify-keyspace-events" && d.Name != "unixsocketperm") || d.multiArg {
		f := strings.Fields(s)
		if len(f) == 0 {
			return []string{""}
		}
		return f
	}
	return []string{s}
}

func (c *Config) parseValue(d *Directive, cur value, args []string, loading bool) (value, error) {
	if d.parse == nil {
		return parseGeneric(d, args)
	}
	if d.Validate != nil {
		if err := d.Validate(args); err != nil {
			return value{}, err
		}
	}
	if (d.Name == "bind" || d.Name == "oom-score-adj-values") && len(args) == 1 && args[0] == "" {
		args = nil
	}
	return d.parse(c, cur, args, loading)
}

// Lookup finds a directive by name or alias, case-insensitively.
func (c *Config) Lookup(name string) *Directive {
	if e, ok := c.byName[strings.ToLower(name)]; ok {
		return e.d
	}
	return nil
}

// ---- loading ----

const maxIncludeDepth = 32

// LoadFile loads a configuration file. The first file loaded becomes the
// file CONFIG REWRITE writes to. include paths are relative to the current
// directory, as in Redis, and may be globs.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		reason := err.Error()
		var pe *os.PathError
		if errors.As(err, &pe) {
			reason = pe.Err.Error()
		}
		if reason != "" {
			reason = strings.ToUpper(reason[:1]) + reason[1:]
		}
		return &LoadError{File: path, Reason: reason}
	}
	c.mu.Lock()
	if c.file == "" && c.depth == 0 {
		if abs, err := filepath.Abs(path); err == nil {
			c.file = abs
		} else {
			c.file = path
		}
		c.mainLines = strings.Count(string(data), "\n")
	}
	c.mu.Unlock()
	return c.load(path, string(data))
}

// LoadReader loads configuration text from r; name is used in errors. It
// does not set the file used by CONFIG REWRITE.
func (c *Config) LoadReader(name string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return &LoadError{File: name, Reason: err.Error()}
	}
	return c.load(name, string(data))
}

func (c *Config) load(name, data string) error {
	for i, raw := range strings.Split(data, "\n") {
		line := strings.Trim(raw, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		args, err := SplitArgs(line)
		if err != nil {
			return &LoadError{File: name, Line: i + 1, Text: line, Reason: err.Error()}
		}
		if len(args) == 0 {
			continue
		}
		if err := c.directive(name, i+1, args); err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return err // from an included file
			}
			return &LoadError{File: name, Line: i + 1, Text: line, Reason: err.Error()}
		}
	}
	return nil
}

var errBadDirective = errors.New("Bad directive or wrong number of arguments")

// directive applies one loaded directive (args[0] is its name).
func (c *Config) directive(file string, line int, args []string) error {
	name := strings.ToLower(args[0])
	rest := args[1:]
	switch name {
	case "include":
		if len(rest) != 1 {
			return errBadDirective
		}
		return c.include(rest[0])
	case "sentinel":
		if len(rest) == 0 {
			return nil
		}
		if !c.sentinel {
			return errors.New("sentinel directive while not in sentinel mode")
		}
		c.mu.Lock()
		c.sentLines = append(c.sentLines, Line{File: file, Line: line, Args: append([]string(nil), rest...)})
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name {
	case "rename-command":
		if len(rest) != 2 {
			return errBadDirective
		}
		if c.CommandExists != nil && !c.CommandExists(rest[0]) {
			return errors.New("No such command in rename-command")
		}
		c.renames[strings.ToLower(rest[0])] = rest[1]
		return nil
	case "user":
		if len(rest) == 0 {
			return errBadDirective
		}
		c.users = append(c.users, append([]string(nil), rest...))
		c.explicit[c.byName["user"].d.index] = true
		return nil
	case "loadmodule":
		if len(rest) == 0 {
			return errBadDirective
		}
		c.modules = append(c.modules, append([]string(nil), rest...))
		c.explicit[c.byName["loadmodule"].d.index] = true
		return nil
	}
	e, ok := c.byName[name]
	if !ok {
		return errBadDirective
	}
	d := e.d
	v, err := c.parseValue(d, c.vals[d.index], rest, true)
	if err != nil {
		return err
	}
	c.vals[d.index] = v
	c.explicit[d.index] = true
	return nil
}

func (c *Config) include(path string) error {
	if c.noInclude {
		return errors.New("include is disabled")
	}
	if c.depth >= maxIncludeDepth {
		return errors.New("include nesting too deep")
	}
	files := []string{path}
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return err
		}
		sort.Strings(m)
		files = m
	}
	c.depth++
	defer func() { c.depth-- }()
	for _, f := range files {
		if err := c.LoadFile(f); err != nil {
			return err
		}
	}
	return nil
}

// ApplyArgs applies redis-server style command line overrides such as
// `--port 7001 --save "" --bind 127.0.0.1 ::1`. Errors are reported as Redis
// does: the line number continues after the main config file's lines and
// the text is `name "arg" ...`.
func (c *Config) ApplyArgs(args []string) error {
	type opt struct {
		name string
		args []string
	}
	var opts []opt
	for _, a := range args {
		if strings.HasPrefix(a, "--") && len(a) > 2 {
			opts = append(opts, opt{name: a[2:]})
			continue
		}
		if len(opts) == 0 {
			return &LoadError{Line: 1, Text: a, Reason: errBadDirective.Error()}
		}
		opts[len(opts)-1].args = append(opts[len(opts)-1].args, a)
	}
	c.mu.RLock()
	base := c.mainLines + 1
	c.mu.RUnlock()
	for i, o := range opts {
		if strings.EqualFold(o.name, "save") && len(o.args) == 0 {
			o.args = []string{""}
		}
		text := o.name
		for _, a := range o.args {
			text += " " + Quote(a)
		}
		if err := c.directive("", base+i+1, append([]string{o.name}, o.args...)); err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return err
			}
			return &LoadError{Line: base + i + 1, Text: text, Reason: err.Error()}
		}
	}
	return nil
}

// ---- typed access ----

func (c *Config) must(name string) *Directive {
	e, ok := c.byName[name]
	if !ok {
		e, ok = c.byName[strings.ToLower(name)]
		if !ok {
			panic("config: unknown directive " + name)
		}
	}
	return e.d
}

// Int returns integer, memory (bytes; a negative value is a percentage for
// maxmemory-clients), enum (index), bool (0/1) and unixsocketperm values,
// and the event mask of notify-keyspace-events. It panics on unknown names.
func (c *Config) Int(name string) int64 {
	d := c.must(name)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.vals[d.index].i
}

// Bool returns a yes/no directive's value.
func (c *Config) Bool(name string) bool {
	d := c.must(name)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.vals[d.index].b
}

// String returns a string or enum value; for other kinds the CONFIG GET text.
func (c *Config) String(name string) string {
	d := c.must(name)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if d.Kind == String || d.Kind == Enum {
		return c.vals[d.index].s
	}
	return formatValue(d, c.vals[d.index])
}

// Strings returns list values: bind addresses, save parameters (flattened
// seconds/changes pairs), replicaof host and port, oom-score-adj-values,
// latency percentiles; for user/loadmodule the lines joined by spaces.
func (c *Config) Strings(name string) []string {
	d := c.must(name)
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch d.Name {
	case "user", "loadmodule":
		src := c.users
		if d.Name == "loadmodule" {
			src = c.modules
		}
		var out []string
		for _, l := range src {
			out = append(out, strings.Join(l, " "))
		}
		return out
	}
	if d.Kind == Special && d.Name != "client-output-buffer-limit" && d.Name != "notify-keyspace-events" && d.Name != "unixsocketperm" {
		return append([]string(nil), c.vals[d.index].l...)
	}
	return strings.Fields(formatValue(d, c.vals[d.index]))
}

// ClientOutputBufferLimit returns the limits of class normal, replica (or
// slave) or pubsub.
func (c *Config) ClientOutputBufferLimit(class string) (hard, soft, seconds int64) {
	cl := cobClass(class)
	if cl < 0 {
		return 0, 0, 0
	}
	d := c.must("client-output-buffer-limit")
	c.mu.RLock()
	defer c.mu.RUnlock()
	l := c.vals[d.index].cob[cl]
	return l[0], l[1], l[2]
}

// File returns the absolute path of the loaded config file, or "".
func (c *Config) File() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.file
}

// Renames returns rename-command mappings: lower-case command -> new name
// ("" means the command is disabled).
func (c *Config) Renames() map[string]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := make(map[string]string, len(c.renames))
	for k, v := range c.renames {
		m[k] = v
	}
	return m
}

// SentinelLines returns the "sentinel ..." lines in load order.
func (c *Config) SentinelLines() []Line {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]Line(nil), c.sentLines...)
}

// NoEffectSet lists the NoEffect directives that were given explicitly (in
// a file, on the command line or by CONFIG SET) with a non-default value:
// the server logs "<name> has no effect in vigil" once for each.
func (c *Config) NoEffectSet() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for _, d := range c.table {
		if !d.NoEffect || !c.explicit[d.index] {
			continue
		}
		if d.Hidden || formatValue(d, c.vals[d.index]) != formatValue(d, c.defs[d.index]) {
			out = append(out, d.Name)
		}
	}
	return out
}
