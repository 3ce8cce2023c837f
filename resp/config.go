package resp

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// Defaults, the same as Redis 7.0's.
const (
	DefaultMaxClients       = 10000
	DefaultProtoMaxBulkLen  = 512 << 20 // proto-max-bulk-len
	DefaultMaxMultibulkLen  = 1<<31 - 1 // INT_MAX: Redis 7.0 has no lower cap
	DefaultQueryBufferLimit = 1 << 30   // client-query-buffer-limit
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("resp: invalid config")

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Addr is the TCP address ListenAndServe listens on, host:port.
	Addr string
	// MaxClients is the most connections served at once (Redis maxclients,
	// default 10000). Connections above it are answered
	// "-ERR max number of clients reached" and closed.
	MaxClients int
	// ProtoMaxBulkLen is the largest bulk argument accepted, in bytes
	// (Redis proto-max-bulk-len, default 512 MiB, at least 1 MiB).
	ProtoMaxBulkLen int64
	// MaxMultibulkLen is the most arguments in one multibulk request
	// (default and maximum INT_MAX, as in Redis 7.0, which replies
	// "invalid multibulk length" only above INT_MAX).
	MaxMultibulkLen int64
	// QueryBufferLimit is the most bytes of one client's unprocessed input
	// (Redis client-query-buffer-limit, default 1 GiB, at least 1 MiB in
	// Redis; smaller values are allowed here for tests). A client over it
	// is closed without a reply.
	QueryBufferLimit int64
	// TLSConfig, when set, makes the server speak TLS on every connection.
	TLSConfig *tls.Config
	// AuthRequired, when set, reports whether a client has still to
	// authenticate; such clients get Redis's stricter request limits
	// (at most 10 arguments, bulks of at most 16384 bytes). It is called
	// on the client's connection goroutine. Nil means never.
	AuthRequired func(c *Client) bool
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.ProtoMaxBulkLen == 0 {
		c.ProtoMaxBulkLen = DefaultProtoMaxBulkLen
	}
	if c.MaxMultibulkLen == 0 {
		c.MaxMultibulkLen = DefaultMaxMultibulkLen
	}
	if c.QueryBufferLimit == 0 {
		c.QueryBufferLimit = DefaultQueryBufferLimit
	}
	return c
}

// Validate reports the first invalid field; zero fields are valid (defaults).
func (c Config) Validate() error {
	switch {
	case c.MaxClients < 0:
		return fmt.Errorf("%w: MaxClients %d < 0", ErrInvalidConfig, c.MaxClients)
	case c.ProtoMaxBulkLen < 0:
		return fmt.Errorf("%w: ProtoMaxBulkLen %d < 0", ErrInvalidConfig, c.ProtoMaxBulkLen)
	case c.MaxMultibulkLen < 0 || c.MaxMultibulkLen > DefaultMaxMultibulkLen:
		return fmt.Errorf("%w: MaxMultibulkLen %d not in [0, %d]", ErrInvalidConfig, c.MaxMultibulkLen, int64(DefaultMaxMultibulkLen))
	case c.QueryBufferLimit < 0:
		return fmt.Errorf("%w: QueryBufferLimit %d < 0", ErrInvalidConfig, c.QueryBufferLimit)
	}
	return nil
}
