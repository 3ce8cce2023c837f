package commands

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Config is the node's runtime configuration as CONFIG GET/SET see it:
// Redis parameter names mapped to their Redis-formatted values. Safe for
// concurrent use.
type Config struct {
	mu       sync.RWMutex
	watchers []func(name, value string)
	params   map[string]string
}

// DefaultConfigParams returns the parameters CONFIG GET reports and their
// defaults. Values describe Skerry truthfully: data is always durable
// (appendonly yes, appendfsync always), there is no RDB snapshotting
// (save ""), and eviction is never done (maxmemory-policy noeviction).
func DefaultConfigParams() map[string]string {
	return map[string]string{
		"maxmemory":                 "0",
		"maxmemory-policy":          "noeviction",
		"maxclients":                "10000",
		"requirepass":               "",
		"proto-max-bulk-len":        "536870912",
		"client-query-buffer-limit": "1073741824",
		"appendonly":                "yes",
		"appendfsync":               "always",
		"save":                      "",
		"databases":                 "16",
		"port":                      "6379",
		"bind":                      "127.0.0.1",
		"timeout":                   "0",
		"tcp-keepalive":             "300",
		"dir":                       ".",
		"lua-time-limit":            "5000",
		"busy-reply-threshold":      "5000",
		"hz":                        "10",
		"notify-keyspace-events":    "",
		"cluster-enabled":           "no",
		"slowlog-log-slower-than":   "10000",
		"slowlog-max-len":           "128",
		"loglevel":                  "notice",
		"daemonize":                 "no",
		// Thresholds of Redis's compact encodings: Skerry stores every
		// collection the same way, but OBJECT ENCODING reports what Redis
		// would, so these decide its answer (see encoding.go).
		"hash-max-listpack-entries": "512",
		"hash-max-listpack-value":   "64",
		"hash-max-ziplist-entries":  "512",
		"hash-max-ziplist-value":    "64",
		"set-max-intset-entries":    "512",
		"zset-max-listpack-entries": "128",
		"zset-max-listpack-value":   "64",
		"zset-max-ziplist-entries":  "128",
		"zset-max-ziplist-value":    "64",
		"list-max-listpack-size":    "-2",
		"list-max-ziplist-size":     "-2",
		"list-compress-depth":       "0",
		"hll-sparse-max-bytes":      "3000",
	}
}

// NewConfig returns a Config holding the defaults overridden by params
// (name -> value, Redis names).
func NewConfig(params map[string]string) *Config {
	c := &Config{params: DefaultConfigParams()}
	for k, v := range params {
		c.params[k] = v
	}
	return c
}

// Get returns the value of a parameter.
func (c *Config) Get(name string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.params[name]
	return v, ok
}

// Set sets a parameter without validation (for the node at start-up).
func (c *Config) Set(name, value string) {
	c.mu.Lock()
	c.params[name] = value
	watchers := c.watchers
	c.mu.Unlock()
	for _, w := range watchers {
		w(name, value)
	}
}

// Watch registers fn to be called after every Set (CONFIG SET), so the
// parts of the node that hold a setting (connection limits) follow it.
func (c *Config) Watch(fn func(name, value string)) {
	c.mu.Lock()
	c.watchers = append(c.watchers, fn)
	c.mu.Unlock()
}

// RequirePass returns the password clients must AUTH with ("" for none).
func (c *Config) RequirePass() string { v, _ := c.Get("requirepass"); return v }

// Match returns the parameters whose names match a Redis glob pattern
// (case-insensitive), sorted by name.
func (c *Config) Match(pattern string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for name := range c.params {
		if GlobMatch([]byte(pattern), []byte(name), true) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// configSetter validates and normalises a CONFIG SET value; the error is
// the reason Redis prints after "CONFIG SET failed (...) - ".
type configSetter func(v string) (string, error)

// settable lists the parameters CONFIG SET accepts.
var settable = map[string]configSetter{
	"maxmemory":                 memoryValue(0),
	"proto-max-bulk-len":        memoryValue(1024 * 1024),
	"client-query-buffer-limit": memoryValue(1024 * 1024),
	"maxclients":                intRange(1, 4294967295),
	"timeout":                   intRange(0, 2147483647),
	"tcp-keepalive":             intRange(0, 2147483647),
	"lua-time-limit":            intRange(0, 9223372036854775807),
	"busy-reply-threshold":      intRange(0, 9223372036854775807),
	"slowlog-log-slower-than":   intRange(-1, 9223372036854775807),
	"slowlog-max-len":           intRange(0, 9223372036854775807),
	"hz": func(v string) (string, error) {
		n, err := intRange(0, 2147483647)(v)
		if err != nil {
			return "", err
		}
		// Redis clamps hz into 1..500.
		x, _ := strconv.ParseInt(n, 10, 64)
		x = max(1, min(x, 500))
		return strconv.FormatInt(x, 10), nil
	},
	"requirepass":            func(v string) (string, error) { return v, nil },
	"notify-keyspace-events": func(v string) (string, error) { return v, nil },
	"maxmemory-policy": enumValue("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
		"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"),
	"loglevel":                  enumValue("debug", "verbose", "notice", "warning"),
	"hash-max-listpack-entries": memoryValue(0),
	"hash-max-listpack-value":   memoryValue(0),
	"hash-max-ziplist-entries":  memoryValue(0),
	"hash-max-ziplist-value":    memoryValue(0),
	"set-max-intset-entries":    memoryValue(0),
	"zset-max-listpack-entries": memoryValue(0),
	"zset-max-listpack-value":   memoryValue(0),
	"zset-max-ziplist-entries":  memoryValue(0),
	"zset-max-ziplist-value":    memoryValue(0),
	"list-max-listpack-size":    intRange(-9223372036854775808, 9223372036854775807),
	"list-max-ziplist-size":     intRange(-9223372036854775808, 9223372036854775807),
	"list-compress-depth":       intRange(0, 2147483647),
	"hll-sparse-max-bytes":      memoryValue(0),
}

func memoryValue(minimum int64) configSetter {
	return func(v string) (string, error) {
		n, ok := parseMemory(v)
		if !ok {
			return "", fmt.Errorf("argument must be a memory value")
		}
		if n < minimum {
			return "", fmt.Errorf("argument must be between %d and 9223372036854775807 inclusive", minimum)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

func intRange(lo, hi int64) configSetter {
	return func(v string) (string, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return "", fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

func enumValue(vals ...string) configSetter {
	return func(v string) (string, error) {
		for _, x := range vals {
			if strings.EqualFold(x, v) {
				return x, nil
			}
		}
		return "", fmt.Errorf("argument(s) must be one of the following: %s", strings.Join(vals, ", "))
	}
}

// parseMemory parses a Redis memory value: an integer with an optional
// unit b, k, kb, m, mb, g, gb (k = 1000, kb = 1024), case-insensitive.
func parseMemory(v string) (int64, bool) {
	s := strings.ToLower(v)
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n * mul, true
}
