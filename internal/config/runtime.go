package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Get implements CONFIG GET. Each pattern is a Redis glob (case-insensitive,
// *, ?, [a-z], [^x], \ escapes) matched against every name and alias; a
// pattern without glob characters is an exact lookup whose reply uses the
// name as given. Each name is returned once, in table order per pattern.
func (c *Config) Get(patterns ...string) [][2]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out [][2]string
	seen := map[string]bool{}
	add := func(shown string, e entry) {
		if seen[e.name] {
			return
		}
		seen[e.name] = true
		out = append(out, [2]string{shown, c.getValue(e.d)})
	}
	for _, p := range patterns {
		if !strings.ContainsAny(p, "*?[") {
			if e, ok := c.byName[strings.ToLower(p)]; ok && !e.d.Hidden {
				add(p, e)
			}
			continue
		}
		for _, e := range c.entries {
			if GlobMatch(p, e.name, true) {
				add(e.name, e)
			}
		}
	}
	return out
}

func (c *Config) getValue(d *Directive) string {
	s := formatValue(d, c.vals[d.index])
	if d.Name == "dir" {
		if abs, err := filepath.Abs(s); err == nil {
			return abs
		}
	}
	return s
}

// OnChange registers a hook run by Set after all new values are in place,
// with the old and new values as CONFIG GET prints them. Hooks only run when
// the value changes. If a hook fails, all values of the Set are restored
// and the hooks that already ran are called again with (new, old).
func (c *Config) OnChange(name string, hook func(old, new string) error) {
	d := c.must(name)
	c.mu.Lock()
	c.hooks[d.index] = append(c.hooks[d.index], hook)
	c.mu.Unlock()
}

// SetError is a CONFIG SET error; Error() is the full Redis reply text.
type SetError struct{ Msg string }

func (e *SetError) Error() string { return e.Msg }

func setFailed(arg, reason string) error {
	return &SetError{fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", arg, reason)}
}

// Set implements CONFIG SET for a client that is not local (protected
// configs need enable-protected-configs yes).
func (c *Config) Set(pairs [][2]string) error { return c.SetLocal(pairs, false) }

// SetLocal is Set for a client connected from a local address when local
// is true (enable-protected-configs local).
func (c *Config) SetLocal(pairs [][2]string, local bool) error {
	c.mu.Lock()
	type change struct {
		name     string
		d        *Directive
		old, new value
	}
	var ch []change
	seen := map[string]bool{}
	protOK := c.stringLocked("enable-protected-configs") == "yes" || (local && c.stringLocked("enable-protected-configs") == "local")
	for _, p := range pairs {
		e, ok := c.byName[strings.ToLower(p[0])]
		if !ok || e.d.Hidden {
			c.mu.Unlock()
			return &SetError{fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", p[0])}
		}
		if !e.d.Mutable {
			c.mu.Unlock()
			return setFailed(p[0], "can't set immutable config")
		}
		if e.d.Protected && !protOK {
			c.mu.Unlock()
			return setFailed(p[0], "can't set protected config")
		}
		if seen[e.name] {
			c.mu.Unlock()
			return setFailed(p[0], "duplicate parameter")
		}
		seen[e.name] = true
		ch = append(ch, change{name: p[0], d: e.d})
	}
	// Convert every value first; nothing changes if one is invalid.
	work := append([]value(nil), c.vals...)
	for i, p := range pairs {
		d := ch[i].d
		nv, err := c.parseValue(d, work[d.index], splitSetValue(d, p[1]), false)
		if err != nil {
			c.mu.Unlock()
			return setFailed(p[0], err.Error())
		}
		ch[i].old, ch[i].new = c.vals[d.index], nv
		work[d.index] = nv
	}
	for _, x := range ch {
		c.vals[x.d.index] = x.new
	}
	type call struct {
		hook     func(old, new string) error
		old, new string
	}
	var todo []call
	var names []string
	for _, x := range ch {
		o, n := formatValue(x.d, x.old), formatValue(x.d, x.new)
		if o == n {
			continue
		}
		for _, h := range c.hooks[x.d.index] {
			todo = append(todo, call{h, o, n})
			names = append(names, x.name)
		}
	}
	c.mu.Unlock()
	// Hooks run without the lock so they may read the config.
	for i, t := range todo {
		if err := t.hook(t.old, t.new); err != nil {
			c.mu.Lock()
			for _, x := range ch {
				c.vals[x.d.index] = x.old
			}
			c.mu.Unlock()
			for j := i - 1; j >= 0; j-- {
				_ = todo[j].hook(todo[j].new, todo[j].old)
			}
			return setFailed(names[i], err.Error())
		}
	}
	c.mu.Lock()
	for _, x := range ch {
		c.explicit[x.d.index] = true
	}
	c.mu.Unlock()
	return nil
}

// stringLocked is String without locking (caller holds the lock).
func (c *Config) stringLocked(name string) string {
	d := c.byName[name].d
	return formatValue(d, c.vals[d.index])
}

// GlobMatch reports whether s matches the Redis-style glob pattern.
func GlobMatch(pattern, s string, nocase bool) bool {
	if nocase {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Iterative matcher with single star backtracking (linear in practice,
	// no exponential blow-up on many stars).
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if n, ok := matchClass(pattern, p, s[i]); ok {
					p = n
					i++
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == s[i] {
						p += 2
						i++
						continue
					}
				} else if s[i] == '\\' {
					p++
					i++
					continue
				}
			default:
				if pattern[p] == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the [...] class starting at pattern[p]; it
// returns the index after the class.
func matchClass(pattern string, p int, c byte) (int, bool) {
	p++
	not := false
	if p < len(pattern) && pattern[p] == '^' {
		not = true
		p++
	}
	match := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			p++
			if pattern[p] == c {
				match = true
			}
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			p += 2
		default:
			if pattern[p] == c {
				match = true
			}
		}
		p++
	}
	// Like Redis, an unterminated class ends at the end of the pattern.
	if p < len(pattern) {
		p++
	}
	if not {
		match = !match
	}
	return p, match
}

// SetInternal changes a directive on behalf of the server itself (not a
// client): immutability doesn't apply and no change hooks run. REPLICAOF
// uses it so a later CONFIG REWRITE persists the new role, as Redis does.
// An empty val restores the default.
func (c *Config) SetInternal(name, val string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("config: unknown directive %q", name)
	}
	d := e.d
	if val == "" {
		c.vals[d.index] = c.defs[d.index]
		return nil
	}
	nv, err := c.parseValue(d, c.vals[d.index], splitSetValue(d, val), false)
	if err != nil {
		return err
	}
	c.vals[d.index] = nv
	return nil
}
