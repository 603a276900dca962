package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// value is the typed current value of one directive.
type value struct {
	i   int64
	b   bool
	s   string
	l   []string
	cob [3][3]int64 // client-output-buffer-limit: class -> hard, soft, seconds
}

var errUnbalanced = errors.New("Unbalanced quotes in configuration line")

// SplitArgs splits a configuration line like Redis's sdssplitargs: words are
// separated by white space, "double quoted" words understand \n \r \t \b \a
// \\ \" and \xHH escapes, 'single quoted' words only \'. A closing quote must
// be followed by white space or the end of the line.
func SplitArgs(line string) ([]string, error) {
	var out []string
	i, n := 0, len(line)
	for {
		for i < n && isSpace(line[i]) {
			i++
		}
		if i >= n {
			return out, nil
		}
		var cur []byte
		inDQ, inSQ, done := false, false, false
		cur = []byte{}
		for !done {
			if inDQ {
				if i >= n {
					return nil, errUnbalanced
				}
				c := line[i]
				switch {
				case c == '\\' && i+3 < n && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					cur = append(cur, hexVal(line[i+2])<<4|hexVal(line[i+3]))
					i += 3
				case c == '\\' && i+1 < n:
					i++
					switch line[i] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[i])
					}
				case c == '"':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, c)
				}
			} else if inSQ {
				if i >= n {
					return nil, errUnbalanced
				}
				c := line[i]
				switch {
				case c == '\\' && i+1 < n && line[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case c == '\'':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, c)
				}
			} else {
				if i >= n {
					break
				}
				switch c := line[i]; {
				case isSpace(c):
					done = true
				case c == '"':
					inDQ = true
				case c == '\'':
					inSQ = true
				default:
					cur = append(cur, c)
				}
			}
			if i < n {
				i++
			}
		}
		out = append(out, string(cur))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Quote returns s as a double quoted string like Redis's sdscatrepr.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteIfNeeded leaves plain words alone and quotes anything SplitArgs
// would not give back unchanged.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == '#' {
			return Quote(s)
		}
	}
	return s
}

// parseStrictInt parses like Redis's string2ll: optional '-', no '+', no
// leading zeros, no spaces, must fit int64.
func parseStrictInt(s string) (int64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	if s == "0" {
		return 0, true
	}
	p := s
	if p[0] == '-' {
		p = p[1:]
	}
	if p == "" || p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// parseMemory parses a memory value: digits with an optional unit
// (b, k=1000, kb=1024, m, mb, g, gb; case-insensitive). "" is 0 as in Redis.
func parseMemory(s string) (int64, bool) {
	ls := strings.ToLower(s)
	mul := int64(1)
	num := ls
	for _, u := range []struct {
		suf string
		m   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(ls, u.suf) {
			num, mul = ls[:len(ls)-len(u.suf)], u.m
			break
		}
	}
	if num == "" {
		return 0, s == ""
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(num, 10, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, false
	}
	if mul > 1 && int64(v) > math.MaxInt64/mul {
		return 0, false
	}
	return int64(v) * mul, true
}

// formatMemoryUnits formats bytes the way CONFIG REWRITE does.
func formatMemoryUnits(v int64) string {
	switch {
	case v != 0 && v%(1<<30) == 0:
		return strconv.FormatInt(v/(1<<30), 10) + "gb"
	case v != 0 && v%(1<<20) == 0:
		return strconv.FormatInt(v/(1<<20), 10) + "mb"
	case v != 0 && v%(1<<10) == 0:
		return strconv.FormatInt(v/(1<<10), 10) + "kb"
	}
	return strconv.FormatInt(v, 10)
}

func rangeErr(min, max int64) error {
	return fmt.Errorf("argument must be between %d and %d inclusive", min, max)
}

var errWrongArgs = errors.New("wrong number of arguments")

// parseGeneric converts args for the non-special kinds.
func parseGeneric(d *Directive, args []string) (value, error) {
	var v value
	if d.multiArg && d.Kind == Enum && len(args) > 0 {
		var parts []string
		for _, a := range args {
			x, err := parseGeneric(&Directive{Kind: Enum, Enum: d.Enum}, []string{a})
			if err != nil {
				return v, err
			}
			parts = append(parts, x.s)
		}
		v.s = strings.Join(parts, " ")
		return v, nil
	}
	if len(args) != 1 {
		return v, errWrongArgs
	}
	if d.Validate != nil {
		if err := d.Validate(args); err != nil {
			return v, err
		}
	}
	a := args[0]
	switch d.Kind {
	case Bool:
		switch strings.ToLower(a) {
		case "yes":
			v.b, v.i = true, 1
		case "no":
		default:
			return v, errors.New("argument must be 'yes' or 'no'")
		}
	case Int:
		n, ok := parseStrictInt(a)
		if !ok {
			return v, errors.New("argument couldn't be parsed into an integer")
		}
		if n < d.Min || n > d.Max {
			return v, rangeErr(d.Min, d.Max)
		}
		v.i = n
	case Memory:
		if d.percent && strings.HasSuffix(a, "%") {
			n, ok := parseStrictInt(a[:len(a)-1])
			if !ok || n < 0 {
				return v, errors.New("argument must be a memory or percent value")
			}
			if n > 100 {
				return v, errors.New("percentage argument must be less or equal to 100")
			}
			v.i = -n
			return v, nil
		}
		n, ok := parseMemory(a)
		if !ok {
			if d.percent {
				return v, errors.New("argument must be a memory or percent value")
			}
			return v, errors.New("argument must be a memory value")
		}
		if n < d.Min || n > d.Max {
			return v, rangeErr(d.Min, d.Max)
		}
		v.i = n
	case String:
		v.s = a
	case Enum:
		la := strings.ToLower(a)
		for _, e := range d.Enum {
			if e == la {
				v.s = e
				v.i = int64(indexOf(d.Enum, e))
				return v, nil
			}
		}
		return v, errors.New("argument(s) must be one of the following: " + strings.Join(d.Enum, ", "))
	}
	return v, nil
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func baseNameCheck(name, what string, args []string) error {
	if len(args) == 1 && strings.ContainsRune(args[0], '/') {
		return fmt.Errorf("%s can't be a path, just a %s", name, what)
	}
	return nil
}

// formatValue renders v like CONFIG GET.
func formatValue(d *Directive, v value) string {
	if d.format != nil {
		return d.format(v)
	}
	switch d.Kind {
	case Bool:
		if v.b {
			return "yes"
		}
		return "no"
	case Int:
		return strconv.FormatInt(v.i, 10)
	case Memory:
		if v.i < 0 {
			return strconv.FormatInt(-v.i, 10) + "%"
		}
		return strconv.FormatInt(v.i, 10)
	}
	return v.s
}

// ---- special directives ----

func formatList(v value) string   { return strings.Join(v.l, " ") }
func formatString(v value) string { return v.s }

func parseBind(_ *Config, _ value, args []string, _ bool) (value, error) {
	return value{l: append([]string(nil), args...)}, nil
}

func parseSave(c *Config, cur value, args []string, loading bool) (value, error) {
	reset := false
	if len(args) == 1 && args[0] == "" {
		args, reset = nil, true
	}
	if len(args) == 1 {
		// Redis 7 splits the single argument of a multi-arg directive on
		// spaces (redis-server --save "3600 1", CONFIG SET save "3600 1").
		args = strings.Fields(args[0])
	}
	if len(args)%2 != 0 {
		return value{}, errors.New("Invalid save parameters")
	}
	for i, a := range args {
		n, ok := parseStrictInt(a)
		if !ok || (i%2 == 0 && n < 1) || (i%2 == 1 && n < 0) {
			return value{}, errors.New("Invalid save parameters")
		}
	}
	var base []string
	if loading && c.saveLoaded && !reset {
		base = cur.l
	}
	if loading {
		c.saveLoaded = true
	}
	l := append(append([]string{}, base...), args...)
	return value{l: l}, nil
}

func rewriteSave(name string, v value) []rwLine {
	if len(v.l) == 0 {
		return []rwLine{{name + ` ""`, true}}
	}
	var out []rwLine
	for i := 0; i+1 < len(v.l); i += 2 {
		out = append(out, rwLine{name + " " + v.l[i] + " " + v.l[i+1], true})
	}
	return out
}

func parseReplicaof(_ *Config, _ value, args []string, _ bool) (value, error) {
	if len(args) != 2 {
		return value{}, errWrongArgs
	}
	if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
		return value{}, nil
	}
	p, ok := parseStrictInt(args[1])
	if !ok || p < 0 || p > 65535 {
		return value{}, errors.New("Invalid master port")
	}
	return value{l: []string{args[0], args[1]}, i: p}, nil
}

func parseOctal(_ *Config, _ value, args []string, _ bool) (value, error) {
	if len(args) != 1 {
		return value{}, errWrongArgs
	}
	a := args[0]
	if a == "" || len(a) > 21 {
		return value{}, errors.New("argument couldn't be parsed as an octal number")
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '7' {
			return value{}, errors.New("argument couldn't be parsed as an octal number")
		}
	}
	n, err := strconv.ParseInt(a, 8, 64)
	if err != nil || n > 0777 {
		return value{}, errors.New("argument must be between 0 and 777 inclusive")
	}
	return value{i: n}, nil
}

func formatOctal(v value) string { return strconv.FormatInt(v.i, 8) }

func parseOOMValues(_ *Config, _ value, args []string, _ bool) (value, error) {
	if len(args) != 3 {
		return value{}, errWrongArgs
	}
	for _, a := range args {
		n, ok := parseStrictInt(a)
		if !ok || n < -2000 || n > 2000 {
			return value{}, errors.New("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
		}
	}
	return value{l: append([]string(nil), args...)}, nil
}

func parsePercentiles(_ *Config, _ value, args []string, _ bool) (value, error) {
	if len(args) == 1 && args[0] == "" {
		args = nil
	}
	var l []string
	for _, a := range args {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || math.IsNaN(f) || strings.ContainsAny(a, "xXpP_") {
			return value{}, errors.New("Invalid latency-tracking-info-percentiles parameters")
		}
		if f < 0 || f > 100 {
			return value{}, errors.New("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		l = append(l, strconv.FormatFloat(f, 'f', -1, 64))
	}
	return value{l: l}, nil
}

// Keyspace notification classes (Int("notify-keyspace-events") is the mask).
const (
	NotifyKeyspace = 1 << iota // K
	NotifyKeyevent             // E
	NotifyGeneric              // g
	NotifyString               // $
	NotifyList                 // l
	NotifySet                  // s
	NotifyHash                 // h
	NotifyZset                 // z
	NotifyExpired              // x
	NotifyEvicted              // e
	NotifyStream               // t
	NotifyKeyMiss              // m
	NotifyModule               // d
	NotifyNew                  // n
	// NotifyAll is what the 'A' class stands for.
	NotifyAll = NotifyGeneric | NotifyString | NotifyList | NotifySet | NotifyHash | NotifyZset | NotifyExpired | NotifyEvicted | NotifyStream | NotifyModule
)

var notifyOrder = []struct {
	c byte
	f int64
}{{'g', NotifyGeneric}, {'$', NotifyString}, {'l', NotifyList}, {'s', NotifySet}, {'h', NotifyHash}, {'z', NotifyZset}, {'x', NotifyExpired}, {'e', NotifyEvicted}, {'t', NotifyStream}, {'d', NotifyModule}}

func parseNotify(_ *Config, _ value, args []string, _ bool) (value, error) {
	if len(args) != 1 {
		return value{}, errWrongArgs
	}
	var mask int64
	for i := 0; i < len(args[0]); i++ {
		switch c := args[0][i]; c {
		case 'A':
			mask |= NotifyAll
		case 'K':
			mask |= NotifyKeyspace
		case 'E':
			mask |= NotifyKeyevent
		case 'm':
			mask |= NotifyKeyMiss
		case 'n':
			mask |= NotifyNew
		default:
			found := false
			for _, o := range notifyOrder {
				if o.c == c {
					mask |= o.f
					found = true
				}
			}
			if !found {
				return value{}, errors.New("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
			}
		}
	}
	return value{i: mask, s: notifyString(mask)}, nil
}

func notifyString(mask int64) string {
	var b []byte
	if mask&NotifyAll == NotifyAll {
		b = append(b, 'A')
	} else {
		for _, o := range notifyOrder {
			if mask&o.f != 0 {
				b = append(b, o.c)
			}
		}
	}
	for _, o := range []struct {
		c byte
		f int64
	}{{'K', NotifyKeyspace}, {'E', NotifyKeyevent}, {'m', NotifyKeyMiss}, {'n', NotifyNew}} {
		if mask&o.f != 0 {
			b = append(b, o.c)
		}
	}
	return string(b)
}

// client-output-buffer-limit classes, in CONFIG GET order.
var cobClasses = []string{"normal", "slave", "pubsub"}

func cobClass(name string) int {
	switch strings.ToLower(name) {
	case "normal":
		return 0
	case "replica", "slave":
		return 1
	case "pubsub":
		return 2
	}
	return -1
}

func parseCOBL(_ *Config, cur value, args []string, _ bool) (value, error) {
	if len(args) == 0 || len(args)%4 != 0 {
		return value{}, errors.New("Wrong number of arguments in buffer limit configuration.")
	}
	nv := cur
	for j := 0; j < len(args); j += 4 {
		cl := cobClass(args[j])
		if cl < 0 {
			return value{}, errors.New("Invalid client class specified in buffer limit configuration.")
		}
		hard, ok1 := parseMemory(args[j+1])
		soft, ok2 := parseMemory(args[j+2])
		secs, ok3 := parseStrictInt(args[j+3])
		if !ok1 || !ok2 || !ok3 || secs < 0 {
			return value{}, errors.New("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
		}
		nv.cob[cl] = [3]int64{hard, soft, secs}
	}
	return nv, nil
}

func formatCOBL(v value) string {
	var parts []string
	for i, n := range cobClasses {
		parts = append(parts, fmt.Sprintf("%s %d %d %d", n, v.cob[i][0], v.cob[i][1], v.cob[i][2]))
	}
	return strings.Join(parts, " ")
}
