package commands

import (
	"bytes"
	"errors"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// The sorted-set records the GEO commands read and write. A geo set is a
// plain sorted set (mvcc/keys "zset" layout): per member a ZMemberKey
// record holding its score, and a ZScoreKey index entry (score, member) ->
// empty; both are always written and removed together, and Meta.Size is
// the member count. These helpers are deliberately small: the sorted-set
// family owns this layout and will provide the shared API.

// errCorruptZset reports sorted-set records that disagree with each other.
var errCorruptZset = errors.New("commands: sorted set records do not match")

// geoZset is one existing or new sorted set as a GEO command uses it.
type geoZset struct {
	db  *keyspace.DB
	key []byte
	m   keyspace.Meta
}

// loadGeoZset returns the sorted set at key, nil when the key does not
// exist, or keyspace.ErrWrongType.
func loadGeoZset(c *Ctx, key []byte) (*geoZset, error) {
	m, ok, err := c.DB.GetCollection(key, keyspace.TypeZSet)
	if err != nil || !ok {
		return nil, err
	}
	return &geoZset{db: c.DB, key: key, m: m}, nil
}

// newGeoZset returns a new, empty sorted set to be written at key.
func newGeoZset(c *Ctx, key []byte) *geoZset {
	return &geoZset{db: c.DB, key: key, m: c.DB.NewCollection(keyspace.TypeZSet)}
}

// score returns the score of member: one point read.
func (z *geoZset) score(member []byte) (float64, bool, error) {
	v, ok, err := z.db.Txn().Get(keys.ZMemberKey(z.db.Index(), z.key, z.m.Version, member))
	if err != nil || !ok {
		return 0, false, err
	}
	s, err := keys.DecodeScore(v)
	if err != nil || len(v) != 8 {
		return 0, false, errCorruptZset
	}
	return s, true, nil
}

// scanScores calls fn for the members with lo <= score < hi in score
// order (members with equal scores in byte order), as Redis's skiplist
// and listpack order them. member is valid only during the call; fn
// returning keyspace.ErrStop ends the scan without error.
func (z *geoZset) scanScores(lo, hi float64, fn func(member []byte, score float64) error) error {
	prefix := keys.ZScorePrefix(z.db.Index(), z.key, z.m.Version)
	lower := keys.AppendScore(bytes.Clone(prefix), lo)
	upper := keys.AppendScore(bytes.Clone(prefix), hi)
	err := z.db.Txn().Scan(lower, upper, false, func(k, _ []byte) error {
		rest := k[len(prefix):]
		s, err := keys.DecodeScore(rest)
		if err != nil {
			return errCorruptZset
		}
		return fn(rest[8:], s)
	})
	if errors.Is(err, keyspace.ErrStop) {
		return nil
	}
	return err
}

// put writes member with score, replacing the index entry of its old
// score when it had one.
func (z *geoZset) put(member []byte, score float64, old float64, existed bool) error {
	txn, db := z.db.Txn(), z.db.Index()
	if existed {
		if err := txn.Delete(keys.ZScoreKey(db, z.key, z.m.Version, old, member)); err != nil {
			return err
		}
	} else {
		z.m.Size++
	}
	if err := txn.Set(keys.ZMemberKey(db, z.key, z.m.Version, member), keys.AppendScore(nil, score)); err != nil {
		return err
	}
	return txn.Set(keys.ZScoreKey(db, z.key, z.m.Version, score, member), nil)
}

// add is ZADD's per-member step with the NX and XX flags: it reports
// whether member was added or had its score changed. Adding to a listpack
// set converts it as Redis's zsetAdd does: when the set would exceed
// zset-max-listpack-entries or the member is longer than
// zset-max-listpack-value.
func (z *geoZset) add(c *Ctx, member []byte, score float64, nx, xx bool) (added, updated bool, err error) {
	old, exists, err := z.score(member)
	if err != nil {
		return false, false, err
	}
	if exists {
		if nx || old == score {
			return false, false, nil
		}
		return false, true, z.put(member, score, old, true)
	}
	if xx {
		return false, false, nil
	}
	if !z.m.Big {
		entries, value := c.zsetLimits()
		if int64(z.m.Size)+1 > entries || int64(len(member)) > value {
			z.m.Big = true
		}
	}
	return true, false, z.put(member, score, 0, false)
}

// save writes the set's metadata (deleting the key when it is empty).
func (z *geoZset) save() error { return z.db.SaveCollection(z.key, &z.m) }

// storeGeoResults replaces whatever key holds with a new sorted set of the
// given members and scores (GEORADIUS STORE, GEOSEARCHSTORE), or deletes
// key when there are none. Like Redis's setKey it drops any TTL. The
// encoding is the one zsetConvertToListpackIfNeeded leaves: a listpack
// when both limits allow it.
func storeGeoResults(c *Ctx, key []byte, pts []geoPoint, useDist bool) error {
	// Delete first: when key is also the source written by this very
	// transaction, its members share the new version and must be gone
	// before the new ones are written.
	if _, err := c.DB.Delete(key); err != nil {
		return err
	}
	if len(pts) == 0 {
		return nil
	}
	z := newGeoZset(c, key)
	maxLen := 0
	for i := range pts {
		p := &pts[i]
		score := p.score
		if useDist {
			score = p.dist
		}
		old, exists, err := z.score(p.member)
		if err != nil {
			return err
		}
		if err := z.put(p.member, score, old, exists); err != nil {
			return err
		}
		maxLen = max(maxLen, len(p.member))
	}
	entries, value := c.zsetLimits()
	z.m.Big = int64(z.m.Size) > entries || int64(maxLen) > value
	return z.save()
}
