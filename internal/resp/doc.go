// Package resp implements the Redis serialization protocol (RESP2 and RESP3)
// for vigil: the request side that turns bytes from a client connection into
// commands, and the reply side that turns handler results into bytes.
//
// The request side (Reader) is the part every byte of client traffic goes
// through, so it is built around two goals. First, it must accept and reject
// exactly what Redis 7.0 accepts and rejects, with the same error texts,
// because client libraries and the Redis test suite depend on those details
// (inline "telnet" commands, silently skipped empty multibulks, a NUL byte
// stalling an inline request until it overflows, and so on). Second, it must
// not allocate per command: arguments are sub-slices of one read buffer and
// a whole pipelined batch is handed to the server at once, so the server can
// execute it under one lock and flush all replies with one write.
//
// The reply side is a set of append-style encoders (AppendBulk, AppendInt,
// ...) plus Writer, which remembers the protocol version negotiated with
// HELLO so command handlers can emit maps, sets, doubles and nulls without
// caring whether the client speaks RESP2 or RESP3.
//
// ReplyReader is the inverse of the reply side: a small generic parser used
// by tests, replication and Sentinel code to read replies from another
// server.
package resp
