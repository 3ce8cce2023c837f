package commands

import (
	"errors"

	"github.com/skerrydb/skerry/commands/keyspace"
)

// A geo set is a plain sorted set; the GEO commands use the sorted-set
// family's storage (zset_store.go) through this thin view, which adds the
// two operations only GEO needs: a half-open score scan that can stop
// early (COUNT ANY) and GEOADD's NX/XX step.

// geoZset is one existing or new sorted set as a GEO command uses it.
type geoZset struct{ *zsetRef }

// loadGeoZset returns the sorted set at key, nil when the key does not
// exist, or keyspace.ErrWrongType.
func loadGeoZset(c *Ctx, key []byte) (*geoZset, error) {
	z, ok, err := openZSet(c, key)
	if err != nil || !ok {
		return nil, err
	}
	return &geoZset{z}, nil
}

// newGeoZset returns a new, empty sorted set to be written at key.
func newGeoZset(c *Ctx, key []byte) *geoZset {
	return &geoZset{newZSetRef(c, key, c.DB.NewCollection(keyspace.TypeZSet))}
}

// score returns the score of member: one point read.
func (z *geoZset) score(member []byte) (float64, bool, error) { return z.Score(member) }

// scanScores calls fn for the members with lo <= score < hi in score
// order (members with equal scores in byte order), as Redis's skiplist
// and listpack order them. member is valid only during the call; fn
// returning keyspace.ErrStop ends the scan without error.
func (z *geoZset) scanScores(lo, hi float64, fn func(member []byte, score float64) error) error {
	r := scoreRange{min: lo, max: hi, maxEx: true}
	if r.empty() {
		return nil
	}
	from, to := r.bounds()
	var ferr error
	err := z.walk(from, to, false, func(member []byte, score float64) bool {
		if err := fn(member, score); err != nil {
			if !errors.Is(err, keyspace.ErrStop) {
				ferr = err
			}
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	return ferr
}

// add is GEOADD's per-member step with the NX and XX flags: it reports
// whether member was added or had its score changed; a new member
// converts the encoding as ZADD does.
func (z *geoZset) add(member []byte, score float64, nx, xx bool) (added, updated bool, err error) {
	old, exists, err := z.Score(member)
	if err != nil {
		return false, false, err
	}
	if exists {
		if nx || old == score {
			return false, false, nil
		}
		return false, true, z.setScore(member, old, score)
	}
	if xx {
		return false, false, nil
	}
	return true, false, z.addNew(member, score)
}

// save writes the set's metadata (deleting the key when it is empty).
func (z *geoZset) save() error { return z.Save() }

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
		old, exists, err := z.Score(p.member)
		if err != nil {
			return err
		}
		if exists {
			err = z.setScore(p.member, old, score)
		} else {
			err = z.insert(p.member, score)
		}
		if err != nil {
			return err
		}
		maxLen = max(maxLen, len(p.member))
	}
	entries, value := c.zsetLimits()
	z.m.Big = int64(z.m.Size) > entries || int64(maxLen) > value
	return z.save()
}
