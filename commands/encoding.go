package commands

import "strconv"

// configAliases pairs Redis 7.0's old ziplist parameter names with their
// listpack names: setting either sets both, as in Redis.
var configAliases = map[string]string{
	"hash-max-ziplist-entries":  "hash-max-listpack-entries",
	"hash-max-listpack-entries": "hash-max-ziplist-entries",
	"hash-max-ziplist-value":    "hash-max-listpack-value",
	"hash-max-listpack-value":   "hash-max-ziplist-value",
	"zset-max-ziplist-entries":  "zset-max-listpack-entries",
	"zset-max-listpack-entries": "zset-max-ziplist-entries",
	"zset-max-ziplist-value":    "zset-max-listpack-value",
	"zset-max-listpack-value":   "zset-max-ziplist-value",
	"list-max-ziplist-size":     "list-max-listpack-size",
	"list-max-listpack-size":    "list-max-ziplist-size",
}

// configInt returns an integer parameter, or def when it is unset or
// malformed (the setters validate, so only a bad start-up value can be).
func (c *Ctx) configInt(name string, def int64) int64 {
	if c.Env == nil || c.Env.Config == nil {
		return def
	}
	v, ok := c.Env.Config.Get(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return def
	}
	return n
}

// Encoding thresholds. Skerry stores every collection the same way; these
// decide only what OBJECT ENCODING reports (keyspace.Meta.Big), so that it
// answers as Redis 7.0 would for the same history of commands.

// hashLimits returns hash-max-listpack-entries and -value.
func (c *Ctx) hashLimits() (entries, value int64) {
	return c.configInt("hash-max-listpack-entries", 512), c.configInt("hash-max-listpack-value", 64)
}

// zsetLimits returns zset-max-listpack-entries and -value.
func (c *Ctx) zsetLimits() (entries, value int64) {
	return c.configInt("zset-max-listpack-entries", 128), c.configInt("zset-max-listpack-value", 64)
}

// setIntsetLimit returns set-max-intset-entries.
func (c *Ctx) setIntsetLimit() int64 { return c.configInt("set-max-intset-entries", 512) }
