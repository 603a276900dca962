package commands

// Error texts clients match on; each is defined once. The "-" and CRLF are
// added by the writer.
const (
	ErrWrongType     = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrSyntax        = "ERR syntax error"
	ErrNotInt        = "ERR value is not an integer or out of range"
	ErrNotFloat      = "ERR value is not a valid float"
	ErrOverflow      = "ERR increment or decrement would overflow"
	ErrNoSuchKey     = "ERR no such key"
	ErrIndexRange    = "ERR index out of range"
	ErrDBIndex       = "ERR DB index is out of range"
	ErrInvalidExpire = "ERR invalid expire time in '%s' command"
	ErrNaN           = "ERR increment would produce NaN or Infinity"
	ErrBitOffset     = "ERR bit offset is not an integer or out of range"
	ErrBitValue      = "ERR bit is not an integer or out of range"
	ErrStringTooBig  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrNotPositive   = "ERR value is out of range, must be positive"
)

// WrongArity is Redis's arity error for cmd.
func WrongArity(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}
