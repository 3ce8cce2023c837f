package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// This file is the one place where Go errors become RESP error replies.
// Handlers return sentinels or *ReplyError values; storage and cluster
// errors arrive wrapped and are mapped here by errors.Is/As.

// ReplyError is an error whose text is sent to the client verbatim (it
// starts with the Redis error code, e.g. "ERR" or "WRONGTYPE").
type ReplyError struct{ Msg string }

func (e *ReplyError) Error() string { return e.Msg }

// Errorf returns a *ReplyError; the format must start with an error code.
func Errorf(format string, args ...any) error {
	return &ReplyError{Msg: fmt.Sprintf(format, args...)}
}

// Sentinels for the errors Redis replies most often (texts from Redis 7.0).
var (
	ErrSyntax       = &ReplyError{"ERR syntax error"}
	ErrNotInteger   = &ReplyError{"ERR value is not an integer or out of range"}
	ErrNotFloat     = &ReplyError{"ERR value is not a valid float"}
	ErrOverflow     = &ReplyError{"ERR increment or decrement would overflow"}
	ErrNoSuchKey    = &ReplyError{"ERR no such key"}
	ErrDBIndex      = &ReplyError{"ERR DB index is out of range"}
	ErrNoAuth       = &ReplyError{"NOAUTH Authentication required."}
	ErrWrongPass    = &ReplyError{"WRONGPASS invalid username-password pair or user is disabled."}
	ErrWrongTypeMsg = &ReplyError{"WRONGTYPE Operation against a key holding the wrong kind of value"}
	ErrBitOffset    = &ReplyError{"ERR bit offset is not an integer or out of range"}
	ErrMaxStringLen = &ReplyError{"ERR string exceeds maximum allowed size (proto-max-bulk-len)"}
)

// Errors of the connection, server, keyspace and COMMAND families (texts
// from Redis 7.0.15).
var (
	errInvalidCommand   = &ReplyError{"ERR Invalid command specified"}
	errNoKeyArgs        = &ReplyError{"ERR The command has no key arguments"}
	errInvalidArgCount  = &ReplyError{"ERR Invalid number of arguments specified for command"}
	errInvalidArgs      = &ReplyError{"ERR Invalid arguments specified for command"}
	errNoPassword       = &ReplyError{"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"}
	errNoProto          = &ReplyError{"NOPROTO unsupported protocol version"}
	errProtoNotInt      = &ReplyError{"ERR Protocol version is not an integer or out of range"}
	errClientName       = &ReplyError{"ERR Client names cannot contain spaces, newlines or special characters."}
	errSecondDBIndex    = &ReplyError{"ERR invalid second DB index"}
	errFirstDBIndex     = &ReplyError{"ERR invalid first DB index"}
	errNoSuchClient     = &ReplyError{"ERR No such client"}
	errInvalidClientID  = &ReplyError{"ERR Invalid client ID"}
	errClientIDPositive = &ReplyError{"ERR client-id should be greater than 0"}
	errSameObject       = &ReplyError{"ERR source and destination objects are the same"}
	errExpireNXXX       = &ReplyError{"ERR NX and XX, GT or LT options at the same time are not compatible"}
	errExpireGTLT       = &ReplyError{"ERR GT and LT options at the same time are not compatible"}
	errInvalidCursor    = &ReplyError{"ERR invalid cursor"}
	errNoConfigFile     = &ReplyError{"ERR The server is running without a config file"}
	errLFUPolicy        = &ReplyError{"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."}
)

// errCommandPanicked answers a command whose body panicked (a bug).
var errCommandPanicked = &ReplyError{"ERR internal error while running the command (see the server log)"}

// ErrArity is the wrong-number-of-arguments error for a command name as
// Redis prints it ("get", "client|setname").
func ErrArity(name string) error {
	return &ReplyError{Msg: "ERR wrong number of arguments for '" + name + "' command"}
}

// ReplyText maps any error to the text of its RESP error reply.
func ReplyText(err error) string {
	var re *ReplyError
	switch {
	case errors.As(err, &re):
		return re.Msg
	case errors.Is(err, keyspace.ErrWrongType):
		return ErrWrongTypeMsg.Msg
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "TRYAGAIN request timed out or was cancelled: " + err.Error()
	}
	var ue interface{ RedisError() string }
	if errors.As(err, &ue) {
		return ue.RedisError()
	}
	return "ERR " + err.Error()
}

// Errors of the string and bitmap families (texts from Redis 7.0.15).
var (
	ErrOffsetRange      = &ReplyError{"ERR offset is out of range"}
	ErrDecrOverflow     = &ReplyError{"ERR decrement would overflow"}
	ErrIncrNaN          = &ReplyError{"ERR increment would produce NaN or Infinity"}
	ErrBitValue         = &ReplyError{"ERR bit is not an integer or out of range"}
	ErrBitArg           = &ReplyError{"ERR The bit argument must be 1 or 0."}
	ErrBitopNot         = &ReplyError{"ERR BITOP NOT must be called with a single source key."}
	ErrBitfieldType     = &ReplyError{"ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."}
	ErrBitfieldOverflow = &ReplyError{"ERR Invalid OVERFLOW type specified"}
	ErrBitfieldRO       = &ReplyError{"ERR BITFIELD_RO only supports the GET subcommand"}
	ErrLCSType          = &ReplyError{"ERR The specified keys must contain string values"}
	ErrLCSLenIdx        = &ReplyError{"ERR If you want both the length and indexes, please just use IDX."}
	ErrLCSMemory        = &ReplyError{"ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"}
)

// errInvalidExpire is the invalid expire time error of SET, SETEX, PSETEX
// and GETEX, naming the command.
func errInvalidExpire(name string) error {
	return &ReplyError{Msg: "ERR invalid expire time in '" + name + "' command"}
}
