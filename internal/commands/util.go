package commands

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ParseInt parses a decimal int64 with Redis's string2ll rules: no spaces, no
// '+', no leading zeros, no "-0", at most 20 characters.
func ParseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// ParseFloat parses a double as Redis's getDoubleFromObject (strtod): no
// leading space, no trailing garbage, no NaN; "inf", "-inf", "+inf" accepted.
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	s := string(b)
	if strings.ContainsRune(s, '_') {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// strtod saturates to +-HUGE_VAL with ERANGE; Redis rejects it.
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// ParseLongDouble is ParseFloat with the rules of string2ld (INCRBYFLOAT,
// HINCRBYFLOAT): also at most 5000 characters.
func ParseLongDouble(b []byte) (float64, bool) {
	if len(b) > 5000 {
		return 0, false
	}
	return ParseFloat(b)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// FormatLongDouble formats like Redis's ld2string in human mode (INCRBYFLOAT):
// fixed notation without exponent, trailing zeros removed.
func FormatLongDouble(f float64) string {
	if math.IsInf(f, 1) {
		return "inf"
	}
	if math.IsInf(f, -1) {
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if s == "-0" {
		s = "0"
	}
	return s
}

// FormatDouble formats a double like Redis 7.0's addReplyDouble in RESP2
// ("%.17g"; Go's 'g' with precision 17 prints the same digits and exponent).
func FormatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// EqualFold reports whether b equals the lower-case ASCII word s, ignoring case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// AppendInt64 appends n in decimal.
func AppendInt64(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// Itoa formats n as bytes.
func Itoa(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// Pattern matching with Redis's stringmatchlen semantics (KEYS, SCAN MATCH,
// PSUBSCRIBE, CONFIG GET): *, ?, [...] with ranges and ^ negation, \ escapes.
func Match(pattern, s []byte, nocase bool) bool {
	return matchRec(pattern, s, nocase, 0)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func matchRec(p, s []byte, nocase bool, depth int) bool {
	if depth > 1000 {
		// Redis bounds nesting to avoid stack overflow on hostile patterns.
		return false
	}
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if matchRec(p[1:], s[i:], nocase, depth+1) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			s = s[1:]
			p = p[1:]
		case '[':
			if len(s) == 0 {
				return false
			}
			p = p[1:]
			not := false
			if len(p) > 0 && p[0] == '^' {
				not = true
				p = p[1:]
			}
			match := false
			for {
				if len(p) == 0 {
					break
				}
				if p[0] == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					start, end := p[0], p[2]
					if start > end {
						start, end = end, start
					}
					c := s[0]
					if nocase {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p = p[2:]
					if c >= start && c <= end {
						match = true
					}
				} else {
					if nocase {
						if lower(p[0]) == lower(s[0]) {
							match = true
						}
					} else if p[0] == s[0] {
						match = true
					}
				}
				p = p[1:]
			}
			if len(p) == 0 {
				// Unterminated class: Redis treats the end as the class end.
				if not {
					match = !match
				}
				if !match {
					return false
				}
				s = s[1:]
				continue
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
			p = p[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if len(s) == 0 {
				return false
			}
			if nocase {
				if lower(p[0]) != lower(s[0]) {
					return false
				}
			} else if p[0] != s[0] {
				return false
			}
			s = s[1:]
			p = p[1:]
		}
	}
	return len(s) == 0
}

// Long double arithmetic for INCRBYFLOAT / HINCRBYFLOAT. Redis computes
// these in C long double (x87 80-bit: 64-bit mantissa) and prints the sum
// with "%.17Lf" minus trailing zeros; a big.Float with 64 bits of
// precision rounds the same way, so sums like 1.1+2.2 print "3.3" as Redis
// does rather than float64's "3.3000000000000003".

const ldPrec = 64

var maxLongDouble = func() *big.Float {
	// 0x1.fffffffffffffffep16383
	f := new(big.Float).SetPrec(ldPrec).SetMantExp(new(big.Float).SetPrec(ldPrec).SetUint64(math.MaxUint64), 16384-64)
	return f
}()

// minLongDouble is the smallest positive subnormal long double (2^-16445).
var minLongDouble = new(big.Float).SetPrec(ldPrec).SetMantExp(big.NewFloat(1), -16445)

// ParseLongDoubleExact parses b with the rules of Redis's string2ld
// (strtold): decimal or hex, "inf"/"infinity"; no leading space, no
// trailing garbage, no NaN, no overflow or underflow to zero, fewer than
// 5120 characters. inf reports an infinite value (valid input).
func ParseLongDoubleExact(b []byte) (f *big.Float, inf int, ok bool) {
	if len(b) == 0 || len(b) >= 5*1024 || isSpace(b[0]) {
		return nil, 0, false
	}
	s := string(b)
	body, sign := s, 1
	if body[0] == '+' || body[0] == '-' {
		if body[0] == '-' {
			sign = -1
		}
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		return nil, sign, true
	}
	if body == "" || strings.ContainsAny(body, "_ \t\r\n") || body[0] == '+' || body[0] == '-' {
		return nil, 0, false
	}
	if len(body) >= 2 && body[0] == '0' {
		switch body[1] {
		case 'b', 'B', 'o', 'O':
			return nil, 0, false
		}
	}
	f = new(big.Float).SetPrec(ldPrec)
	if _, _, err := f.Parse(s, 0); err != nil {
		return nil, 0, false
	}
	abs := new(big.Float).Abs(f)
	if abs.Cmp(maxLongDouble) > 0 {
		return nil, 0, false
	}
	if abs.Sign() != 0 && abs.Cmp(minLongDouble) < 0 {
		return nil, 0, false
	}
	if abs.Sign() == 0 {
		// strtold("0e-99999") is a plain zero; an underflow to zero is
		// caught above, so this is a real zero.
		f.SetInt64(0)
	}
	return f, 0, true
}

// FormatLongDoubleExact prints f as Redis's ld2string in human mode.
func FormatLongDoubleExact(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// IncrByFloatString adds incr to cur (nil: a missing value, 0) in long
// double precision as INCRBYFLOAT does, returning the new value's text or
// Redis's error (ErrNotFloat for either operand, ErrNaN for an infinite
// result). Callers report the type error of cur themselves.
func IncrByFloatString(cur []byte, incr []byte) ([]byte, string) {
	a := new(big.Float).SetPrec(ldPrec)
	ainf := 0
	if cur != nil {
		v, inf, ok := ParseLongDoubleExact(cur)
		if !ok {
			return nil, ErrNotFloat
		}
		if inf != 0 {
			ainf = inf
		} else {
			a = v
		}
	}
	b, binf, ok := ParseLongDoubleExact(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	if ainf != 0 || binf != 0 {
		return nil, ErrNaN
	}
	sum := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(a, b)
	if new(big.Float).Abs(sum).Cmp(maxLongDouble) > 0 {
		return nil, ErrNaN
	}
	return []byte(FormatLongDoubleExact(sum)), ""
}

// Applies coreSummaries (keys.go) once strings.go and keys.go registered
// their commands: util.go's init runs after theirs (file name order).
func init() {
	for name, s := range coreSummaries {
		if c := Table[name]; c != nil && c.Summary == "" {
			c.Summary = s
		}
	}
}
