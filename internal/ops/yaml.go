package ops

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A small parser for the YAML subset topology files use. Supported:
//
//   - block mappings (`key: value`, `key:` followed by an indented block)
//   - block sequences (`- value`, `- key: value` starting a mapping item),
//     also at the same indentation as their parent key
//   - flow sequences of scalars: `[a, b, "c"]`
//   - scalars: plain, 'single-quoted', "double-quoted" (Go escapes)
//   - comments (`#` at the start or after a space), blank lines, a leading `---`
//
// Not supported (rejected with a line number): tabs for indentation, anchors
// and aliases, multi-line/block scalars, flow mappings, multiple documents.
// A file whose first non-blank character is `{` is read as JSON instead.

type nodeKind int

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

type node struct {
	kind  nodeKind
	line  int
	value string // scalar text
	keys  []string
	m     map[string]*node
	items []*node
}

type yline struct {
	n      int // 1-based line number
	indent int
	text   string
}

type yamlError struct {
	line int
	msg  string
}

func (e *yamlError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

func errAt(line int, format string, a ...any) error {
	return &yamlError{line, fmt.Sprintf(format, a...)}
}

// parseYAML parses data into a node tree.
func parseYAML(data string) (*node, error) {
	if t := strings.TrimSpace(data); strings.HasPrefix(t, "{") {
		var v any
		if err := json.Unmarshal([]byte(t), &v); err != nil {
			return nil, fmt.Errorf("JSON: %v", err)
		}
		return fromJSON(v), nil
	}
	var lines []yline
	for i, raw := range strings.Split(data, "\n") {
		raw = strings.TrimRight(raw, "\r")
		body := stripComment(raw)
		if strings.TrimSpace(body) == "" {
			continue
		}
		ind := len(body) - len(strings.TrimLeft(body, " "))
		if strings.HasPrefix(body[ind:], "\t") {
			return nil, errAt(i+1, "tab used for indentation (use spaces)")
		}
		text := strings.TrimRight(body[ind:], " \t")
		if len(lines) == 0 && text == "---" {
			continue
		}
		if text == "---" || text == "..." {
			return nil, errAt(i+1, "multiple YAML documents are not supported")
		}
		lines = append(lines, yline{i + 1, ind, text})
	}
	if len(lines) == 0 {
		return &node{kind: mapNode, m: map[string]*node{}}, nil
	}
	p := &yparser{lines: lines}
	n, err := p.block(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		l := p.lines[p.i]
		return nil, errAt(l.n, "unexpected indentation")
	}
	return n, nil
}

// stripComment removes a # comment outside quotes.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}

type yparser struct {
	lines []yline
	i     int
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *yparser) block(indent int) (*node, error) {
	if isSeqItem(p.lines[p.i].text) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yparser) mapping(indent int) (*node, error) {
	n := &node{kind: mapNode, line: p.lines[p.i].n, m: map[string]*node{}}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, errAt(l.n, "unexpected indentation")
		}
		if isSeqItem(l.text) {
			return nil, errAt(l.n, "list item where a key was expected")
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, errAt(l.n, "expected 'key: value', got %q", l.text)
		}
		if _, dup := n.m[key]; dup {
			return nil, errAt(l.n, "duplicate key %q", key)
		}
		p.i++
		var v *node
		var err error
		switch {
		case rest != "":
			v, err = scalarOrFlow(rest, l.n)
		case p.i < len(p.lines) && p.lines[p.i].indent > indent:
			v, err = p.block(p.lines[p.i].indent)
		case p.i < len(p.lines) && p.lines[p.i].indent == indent && isSeqItem(p.lines[p.i].text):
			v, err = p.seq(indent)
		default:
			v = &node{kind: nullNode, line: l.n}
		}
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.m[key] = v
	}
	return n, nil
}

func (p *yparser) seq(indent int) (*node, error) {
	n := &node{kind: seqNode, line: p.lines[p.i].n}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent || (l.indent == indent && !isSeqItem(l.text)) {
			break
		}
		if l.indent > indent {
			return nil, errAt(l.n, "unexpected indentation")
		}
		content := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if content == "" {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				v, err := p.block(p.lines[p.i].indent)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			} else {
				n.items = append(n.items, &node{kind: nullNode, line: l.n})
			}
			continue
		}
		if _, _, isMap := splitKey(content); isMap && !strings.HasPrefix(content, "[") {
			// "- key: value" starts a mapping whose keys sit at the
			// column of "key".
			col := indent + (len(l.text) - len(content))
			p.lines[p.i] = yline{l.n, col, content}
			v, err := p.mapping(col)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
			continue
		}
		v, err := scalarOrFlow(content, l.n)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.i++
	}
	return n, nil
}

// splitKey splits "key: rest" (key may be quoted).
func splitKey(s string) (key, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] == '"' || s[0] == '\'' {
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return "", "", false
		}
		k := s[1 : end+1]
		r := s[end+2:]
		if !strings.HasPrefix(r, ":") {
			return "", "", false
		}
		return k, strings.TrimSpace(r[1:]), true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			k := strings.TrimSpace(s[:i])
			if k == "" || strings.ContainsAny(k[:1], "[{&*!|>%@`") {
				return "", "", false
			}
			return k, strings.TrimSpace(s[i+1:]), true
		}
	}
	return "", "", false
}

func scalarOrFlow(s string, line int) (*node, error) {
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return nil, errAt(line, "unterminated flow sequence %q", s)
		}
		n := &node{kind: seqNode, line: line}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		if inner == "" {
			return n, nil
		}
		for _, part := range splitFlow(inner) {
			part = strings.TrimSpace(part)
			if part == "" || strings.HasPrefix(part, "[") || strings.HasPrefix(part, "{") {
				return nil, errAt(line, "only scalars are supported inside [...]")
			}
			v, err := scalar(part, line)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	}
	if strings.HasPrefix(s, "{") {
		return nil, errAt(line, "flow mappings {...} are not supported; use an indented block")
	}
	return scalar(s, line)
}

func splitFlow(s string) []string {
	var parts []string
	var q byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func scalar(s string, line int) (*node, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, errAt(line, "bad double-quoted string %s", s)
		}
		return &node{kind: scalarNode, line: line, value: v}, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return nil, errAt(line, "bad single-quoted string %s", s)
		}
		return &node{kind: scalarNode, line: line, value: strings.ReplaceAll(s[1:len(s)-1], "''", "'")}, nil
	case strings.ContainsAny(s[:1], "&*!|>%@`"):
		return nil, errAt(line, "unsupported YAML syntax %q (anchors, tags and block scalars are not supported)", s)
	case s == "~" || s == "null":
		return &node{kind: nullNode, line: line}, nil
	}
	return &node{kind: scalarNode, line: line, value: s}, nil
}

func fromJSON(v any) *node {
	switch x := v.(type) {
	case map[string]any:
		n := &node{kind: mapNode, m: map[string]*node{}}
		for k := range x {
			n.keys = append(n.keys, k)
		}
		sort.Strings(n.keys)
		for _, k := range n.keys {
			n.m[k] = fromJSON(x[k])
		}
		return n
	case []any:
		n := &node{kind: seqNode}
		for _, e := range x {
			n.items = append(n.items, fromJSON(e))
		}
		return n
	case nil:
		return &node{kind: nullNode}
	case string:
		return &node{kind: scalarNode, value: x}
	case float64:
		return &node{kind: scalarNode, value: strconv.FormatFloat(x, 'f', -1, 64)}
	case bool:
		return &node{kind: scalarNode, value: strconv.FormatBool(x)}
	}
	return &node{kind: scalarNode, value: fmt.Sprint(v)}
}
