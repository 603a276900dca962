package resp

// splitArgs tokenizes an inline request exactly like Redis's sdssplitargs
// and appends the arguments to args. It decodes in place: every token's
// decoded form is never longer than its source text, so writing it over the
// source keeps arguments as sub-slices of the read buffer with no copying.
// The caller guarantees line has no NUL, so "end of line" here plays the
// role of C's terminating NUL. It reports false for unbalanced quotes.
func splitArgs(line []byte, args [][]byte) ([][]byte, bool) {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	p := 0
	for {
		for p < n && isSpace(line[p]) {
			p++
		}
		if p >= n {
			return args, true
		}
		w := p // write cursor; always <= p, so decoding never clobbers unread input
		tok := p
		inq, insq := false, false
	token:
		for {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					line[w] = unhex(at(p+2))<<4 | unhex(at(p+3))
					w++
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					switch e := line[p]; e {
					case 'n':
						line[w] = '\n'
					case 'r':
						line[w] = '\r'
					case 't':
						line[w] = '\t'
					case 'b':
						line[w] = '\b'
					case 'a':
						line[w] = '\a'
					default:
						line[w] = e
					}
					w++
				case c == '"':
					// A closing quote glued to more text ("a"b) is an error
					// in Redis, not a concatenation.
					if nx := at(p + 1); nx != 0 && !isSpace(nx) {
						return args, false
					}
					p++
					break token
				case c == 0:
					return args, false
				default:
					line[w] = c
					w++
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					line[w] = '\''
					w++
				case c == '\'':
					if nx := at(p + 1); nx != 0 && !isSpace(nx) {
						return args, false
					}
					p++
					break token
				case c == 0:
					return args, false
				default:
					line[w] = c
					w++
				}
			default:
				switch c {
				// Only these end a bare token; \v and \f are skipped between
				// tokens (isspace) but are part of one. That asymmetry is Redis's.
				case ' ', '\n', '\r', '\t':
					p++
					break token
				case 0:
					break token
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					line[w] = c
					w++
				}
			}
			if p < n {
				p++
			}
		}
		args = append(args, line[tok:w:w])
	}
}

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// parseInt is Redis's string2ll: no sign other than a leading '-', no
// leading zeros, no "-0", at most 20 bytes. Counts like "*01" or "$+3" are
// rejected by Redis, and clients rely on getting the same answer here.
func parseInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
		if len(s) == 0 {
			return 0, false
		}
	}
	if s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1)/10 || v*10 > 1<<64-1-d {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
