package commands

import (
	"bytes"
	"math"
	"slices"
	"strconv"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/resp"
)

// GEO commands. A geo set is a sorted set whose scores are 52-bit geohashes
// (geohash.go); GEOADD writes it like ZADD, the other commands read
// members' scores with point reads, and searches scan the score index over
// the nine cells around the centre (at most nine range scans) before
// filtering by exact distance, as Redis does. Replies, including the order
// of points at equal distances, follow Redis 7.0's geo.c.

func registerGeo(t *Table) {
	for _, c := range []*Command{
		{Name: "geoadd", Handler: geoaddCmd},
		{Name: "geopos", Handler: geoposCmd},
		{Name: "geohash", Handler: geohashCmd},
		{Name: "geodist", Handler: geodistCmd},
		{Name: "georadius", Handler: func(c *Ctx) error { return geoSearch(c, geoByCoords) }},
		{Name: "georadius_ro", Handler: func(c *Ctx) error { return geoSearch(c, geoByCoords|geoNoStore) }},
		{Name: "georadiusbymember", Handler: func(c *Ctx) error { return geoSearch(c, geoByMember) }},
		{Name: "georadiusbymember_ro", Handler: func(c *Ctx) error { return geoSearch(c, geoByMember|geoNoStore) }},
		{Name: "geosearch", Handler: func(c *Ctx) error { return geoSearch(c, geoSearchCmd) }},
		{Name: "geosearchstore", Handler: func(c *Ctx) error { return geoSearch(c, geoSearchCmd|geoSearchStore) }},
	} {
		c.Data = true
		t.Register(c)
	}
}

// Errors of the geo family (texts from Redis 7.0.15).
var (
	errGeoUnit          = &ReplyError{"ERR unsupported unit provided. please use M, KM, FT, MI"}
	errGeoRadiusNumber  = &ReplyError{"ERR need numeric radius"}
	errGeoWidthNumber   = &ReplyError{"ERR need numeric width"}
	errGeoHeightNumber  = &ReplyError{"ERR need numeric height"}
	errGeoRadiusNeg     = &ReplyError{"ERR radius cannot be negative"}
	errGeoBoxNeg        = &ReplyError{"ERR height or width cannot be negative"}
	errGeoMember        = &ReplyError{"ERR could not decode requested zset member"}
	errGeoCount         = &ReplyError{"ERR COUNT must be > 0"}
	errGeoAnyNeedsCount = &ReplyError{"ERR the ANY argument requires COUNT argument"}
	errGeoStoreRadius   = &ReplyError{"ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"}
	errGeoStoreSearch   = &ReplyError{"ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"}
)

// geoLonLatArg parses a longitude and a latitude argument.
func geoLonLatArg(lonArg, latArg []byte) (lon, lat float64, err error) {
	lon, ok := ParseFloat(lonArg)
	if !ok {
		return 0, 0, ErrNotFloat
	}
	lat, ok = ParseFloat(latArg)
	if !ok {
		return 0, 0, ErrNotFloat
	}
	if lon < geoLonMin || lon > geoLonMax || lat < geoLatMin || lat > geoLatMax {
		return 0, 0, Errorf("ERR invalid longitude,latitude pair %s,%s", cFormatF6(lon), cFormatF6(lat))
	}
	return lon, lat, nil
}

// cFormatF6 is C's printf("%f").
func cFormatF6(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// geoUnitArg returns the size in metres of a unit argument.
func geoUnitArg(b []byte) (float64, error) {
	switch {
	case argIs(b, "m"):
		return 1, nil
	case argIs(b, "km"):
		return 1000, nil
	case argIs(b, "ft"):
		return 0.3048, nil
	case argIs(b, "mi"):
		return 1609.34, nil
	}
	return 0, errGeoUnit
}

// geoDistanceText formats a distance as Redis's addReplyDoubleDistance:
// "%.4f".
func geoDistanceText(d float64) []byte {
	if math.IsNaN(d) {
		if math.Signbit(d) {
			return []byte("-nan")
		}
		return []byte("nan")
	}
	if math.IsInf(d, 0) {
		return []byte(cFormatF6(d))
	}
	return strconv.AppendFloat(nil, d, 'f', 4, 64)
}

// writeGeoCoord writes a coordinate as Redis's addReplyHumanLongDouble:
// "%.17Lf" with trailing zeros removed, a bulk string in RESP2 and a
// double in RESP3.
func writeGeoCoord(w *resp.Writer, f float64) {
	s := trimZeros(strconv.FormatFloat(f, 'f', 17, 64))
	if s == "-0" {
		s = "0"
	}
	if w.Proto() == 3 {
		w.Raw([]byte("," + s + "\r\n"))
		return
	}
	w.BulkString(s)
}

// GEOADD key [NX|XX] [CH] longitude latitude member [...]
func geoaddCmd(c *Ctx) error {
	var nx, xx, ch bool
	i := 2
options:
	for ; i < len(c.Args); i++ {
		switch a := c.Args[i]; {
		case argIs(a, "nx"):
			nx = true
		case argIs(a, "xx"):
			xx = true
		case argIs(a, "ch"):
			ch = true
		default:
			break options
		}
	}
	rest := c.Args[i:]
	// No triplet at all is ZADD's syntax error, which GEOADD delegates to.
	if len(rest)%3 != 0 || len(rest) == 0 || (nx && xx) {
		return ErrSyntax
	}
	// Every pair is validated before anything is written.
	scores := make([]float64, len(rest)/3)
	for j := range scores {
		lon, lat, err := geoLonLatArg(rest[3*j], rest[3*j+1])
		if err != nil {
			return err
		}
		scores[j] = geoScore(lon, lat)
	}
	key := c.Args[1]
	z, err := loadGeoZset(c, key)
	if err != nil {
		return err
	}
	if z == nil {
		if xx {
			c.W.Int(0)
			return nil
		}
		z = newGeoZset(c, key)
	}
	var added, updated int64
	for j, score := range scores {
		a, u, err := z.add(rest[3*j+2], score, nx, xx)
		if err != nil {
			return err
		}
		if a {
			added++
		}
		if u {
			updated++
		}
	}
	if err := z.save(); err != nil {
		return err
	}
	if ch {
		added += updated
	}
	c.W.Int(added)
	return nil
}

// GEOPOS key member [...]
func geoposCmd(c *Ctx) error {
	z, err := loadGeoZset(c, c.Args[1])
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.W.Array(len(members))
	for _, m := range members {
		score, ok := 0.0, false
		if z != nil {
			if score, ok, err = z.score(m); err != nil {
				return err
			}
		}
		if !ok {
			c.W.NullArray()
			continue
		}
		lon, lat := geoDecodeScore(score)
		c.W.Array(2)
		writeGeoCoord(c.W, lon)
		writeGeoCoord(c.W, lat)
	}
	return nil
}

// GEOHASH key member [...]
func geohashCmd(c *Ctx) error {
	z, err := loadGeoZset(c, c.Args[1])
	if err != nil {
		return err
	}
	members := c.Args[2:]
	c.W.Array(len(members))
	for _, m := range members {
		score, ok := 0.0, false
		if z != nil {
			if score, ok, err = z.score(m); err != nil {
				return err
			}
		}
		if !ok {
			c.W.Null()
			continue
		}
		h := geohashString(score)
		c.W.Bulk(h[:])
	}
	return nil
}

// GEODIST key member1 member2 [M|KM|FT|MI]
func geodistCmd(c *Ctx) error {
	toMeters := 1.0
	switch {
	case len(c.Args) == 5:
		var err error
		if toMeters, err = geoUnitArg(c.Args[4]); err != nil {
			return err
		}
	case len(c.Args) > 5:
		return ErrSyntax
	}
	z, err := loadGeoZset(c, c.Args[1])
	if err != nil {
		return err
	}
	if z == nil {
		c.W.Null()
		return nil
	}
	s1, ok1, err := z.score(c.Args[2])
	if err != nil {
		return err
	}
	s2, ok2, err := z.score(c.Args[3])
	if err != nil {
		return err
	}
	if !ok1 || !ok2 {
		c.W.Null()
		return nil
	}
	lon1, lat1 := geoDecodeScore(s1)
	lon2, lat2 := geoDecodeScore(s2)
	c.W.Bulk(geoDistanceText(geoDistance(lon1, lat1, lon2, lat2) / toMeters))
	return nil
}

// Variants of the search commands (Redis's georadiusGeneric flags).
const (
	geoByCoords    = 1 << iota // GEORADIUS[_RO]: centre and radius are positional
	geoByMember                // GEORADIUSBYMEMBER[_RO]
	geoNoStore                 // the _RO variants: no STORE/STOREDIST
	geoSearchCmd               // GEOSEARCH syntax (FROM... BY...)
	geoSearchStore             // GEOSEARCHSTORE: destination first, STOREDIST flag
)

// geoRadiusArg parses "<radius> <unit>".
func geoRadiusArg(s *geoShape, radius, unit []byte) error {
	r, ok := ParseFloat(radius)
	if !ok {
		return errGeoRadiusNumber
	}
	if r < 0 {
		return errGeoRadiusNeg
	}
	conv, err := geoUnitArg(unit)
	if err != nil {
		return err
	}
	s.box, s.radius, s.conversion = false, r, conv
	return nil
}

// geoBoxArg parses "<width> <height> <unit>".
func geoBoxArg(s *geoShape, width, height, unit []byte) error {
	w, ok := ParseFloat(width)
	if !ok {
		return errGeoWidthNumber
	}
	h, ok := ParseFloat(height)
	if !ok {
		return errGeoHeightNumber
	}
	if h < 0 || w < 0 {
		return errGeoBoxNeg
	}
	conv, err := geoUnitArg(unit)
	if err != nil {
		return err
	}
	s.box, s.width, s.height, s.conversion = true, w, h, conv
	return nil
}

// geoMemberCentre sets the shape's centre to a member's position.
func geoMemberCentre(s *geoShape, z *geoZset, member []byte) error {
	score, ok, err := z.score(member)
	if err != nil {
		return err
	}
	if !ok {
		return errGeoMember
	}
	s.lon, s.lat = geoDecodeScore(score)
	return nil
}

// geoQuery is a parsed search command.
type geoQuery struct {
	shape                         geoShape
	withDist, withHash, withCoord bool
	anyMatch                      bool  // ANY: stop at count matches
	count                         int64 // 0: unlimited
	order                         int   // geoUnsorted, geoAsc or geoDesc
	storeKey                      []byte
	storeDist                     bool
}

const (
	geoUnsorted = iota
	geoAsc
	geoDesc
)

// geoSearch is GEORADIUS, GEORADIUSBYMEMBER, their _RO variants,
// GEOSEARCH and GEOSEARCHSTORE (Redis's georadiusGeneric).
func geoSearch(c *Ctx, flags int) error {
	src := 1
	if flags&geoSearchStore != 0 {
		src = 2
	}
	z, err := loadGeoZset(c, c.Args[src])
	if err != nil {
		return err
	}
	q, err := parseGeoQuery(c, flags, z)
	if err != nil {
		return err
	}
	if z == nil {
		if q.storeKey != nil {
			if _, err := c.DB.Delete(q.storeKey); err != nil {
				return err
			}
			c.W.Int(0)
			return nil
		}
		c.W.Array(0)
		return nil
	}

	// COUNT needs the nearest points, unless ANY asked for any of them.
	if q.count != 0 && q.order == geoUnsorted && !q.anyMatch {
		q.order = geoAsc
	}
	limit := 0
	if q.anyMatch {
		limit = int(min(q.count, math.MaxInt32))
	}
	pts, err := geoCollect(z, &q.shape, limit)
	if err != nil {
		return err
	}
	if len(pts) == 0 && q.storeKey == nil {
		c.W.Array(0)
		return nil
	}

	returned := len(pts)
	if q.count != 0 && int64(returned) > q.count {
		returned = int(q.count)
	}
	if q.order != geoUnsorted {
		cmp := geoComparePoints
		if q.order == geoDesc {
			cmp = func(a, b *geoPoint) int { return -geoComparePoints(a, b) }
		}
		if returned == len(pts) {
			// glibc's qsort is a merge sort: stable.
			slices.SortStableFunc(pts, func(a, b geoPoint) int { return cmp(&a, &b) })
		} else {
			geoPartialSort(pts, cmp, 0, returned-1)
		}
	}
	pts = pts[:returned]
	for i := range pts {
		pts[i].dist /= q.shape.conversion
	}

	if q.storeKey != nil {
		if err := storeGeoResults(c, q.storeKey, pts, q.storeDist); err != nil {
			return err
		}
		c.W.Int(int64(len(pts)))
		return nil
	}
	writeGeoPoints(c.W, &q, pts)
	return nil
}

// parseGeoQuery parses a search command's arguments in Redis's order, so
// that the first error reported is Redis's. z is the source set (nil when
// the key does not exist): FROMMEMBER and GEORADIUSBYMEMBER look the member
// up while parsing, and without the key the options are still parsed, to
// pick the reply.
func parseGeoQuery(c *Ctx, flags int, z *geoZset) (geoQuery, error) {
	var q geoQuery
	var err error
	base := 2
	switch {
	case flags&geoByCoords != 0:
		base = 6
		if q.shape.lon, q.shape.lat, err = geoLonLatArg(c.Args[2], c.Args[3]); err != nil {
			return q, err
		}
		if err := geoRadiusArg(&q.shape, c.Args[4], c.Args[5]); err != nil {
			return q, err
		}
	case flags&geoByMember != 0:
		base = 5
		if z != nil {
			if err := geoMemberCentre(&q.shape, z, c.Args[2]); err != nil {
				return q, err
			}
			if err := geoRadiusArg(&q.shape, c.Args[3], c.Args[4]); err != nil {
				return q, err
			}
		}
	case flags&geoSearchStore != 0:
		base = 3
		q.storeKey = c.Args[1]
	}

	var fromMember, fromLonLat, byRadius, byBox bool
	search := flags&geoSearchCmd != 0
	canStore := flags&(geoNoStore|geoSearchCmd) == 0
	args := c.Args[base:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		left := len(args) - i - 1 // arguments after a
		switch {
		case argIs(a, "withdist"):
			q.withDist = true
		case argIs(a, "withhash"):
			q.withHash = true
		case argIs(a, "withcoord"):
			q.withCoord = true
		case argIs(a, "any"):
			q.anyMatch = true
		case argIs(a, "asc"):
			q.order = geoAsc
		case argIs(a, "desc"):
			q.order = geoDesc
		case argIs(a, "count") && left >= 1:
			n, ok := ParseInt(args[i+1])
			if !ok {
				return q, ErrNotInteger
			}
			if n <= 0 {
				return q, errGeoCount
			}
			q.count = n
			i++
		case (argIs(a, "store") || argIs(a, "storedist")) && left >= 1 && canStore:
			q.storeKey = args[i+1]
			q.storeDist = argIs(a, "storedist")
			i++
		case argIs(a, "storedist") && flags&geoSearchStore != 0:
			q.storeDist = true
		case argIs(a, "frommember") && left >= 1 && search && !fromLonLat:
			if z != nil {
				if err := geoMemberCentre(&q.shape, z, args[i+1]); err != nil {
					return q, err
				}
			}
			fromMember = true
			i++
		case argIs(a, "fromlonlat") && left >= 2 && search && !fromMember:
			if q.shape.lon, q.shape.lat, err = geoLonLatArg(args[i+1], args[i+2]); err != nil {
				return q, err
			}
			fromLonLat = true
			i += 2
		case argIs(a, "byradius") && left >= 2 && search && !byBox:
			if err := geoRadiusArg(&q.shape, args[i+1], args[i+2]); err != nil {
				return q, err
			}
			byRadius = true
			i += 2
		case argIs(a, "bybox") && left >= 3 && search && !byRadius:
			if err := geoBoxArg(&q.shape, args[i+1], args[i+2], args[i+3]); err != nil {
				return q, err
			}
			byBox = true
			i += 3
		default:
			return q, ErrSyntax
		}
	}

	if q.storeKey != nil && (q.withDist || q.withHash || q.withCoord) {
		if flags&geoSearchStore != 0 {
			return q, errGeoStoreSearch
		}
		return q, errGeoStoreRadius
	}
	// Redis names the command as the client spelled it.
	if search && !fromMember && !fromLonLat {
		return q, Errorf("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s", c.Args[0])
	}
	if search && !byRadius && !byBox {
		return q, Errorf("ERR exactly one of BYRADIUS and BYBOX can be specified for %s", c.Args[0])
	}
	if q.anyMatch && q.count == 0 {
		return q, errGeoAnyNeedsCount
	}
	return q, nil
}

// writeGeoPoints replies the search results: members alone, or each an
// array of the member and, in this order, its distance, hash and
// coordinates as requested.
func writeGeoPoints(w *resp.Writer, q *geoQuery, pts []geoPoint) {
	opts := 0
	for _, on := range []bool{q.withDist, q.withHash, q.withCoord} {
		if on {
			opts++
		}
	}
	w.Array(len(pts))
	for i := range pts {
		p := &pts[i]
		if opts > 0 {
			w.Array(opts + 1)
		}
		w.Bulk(p.member)
		if q.withDist {
			w.Bulk(geoDistanceText(p.dist))
		}
		if q.withHash {
			w.Int(cDoubleToInt64(p.score))
		}
		if q.withCoord {
			w.Array(2)
			writeGeoCoord(w, p.lon)
			writeGeoCoord(w, p.lat)
		}
	}
}

// geoCollect returns the members inside shape, scanning the search cells
// in Redis's order and each cell's members in score order. limit > 0 (ANY)
// stops as soon as that many were found.
func geoCollect(z *geoZset, shape *geoShape, limit int) ([]geoPoint, error) {
	var pts []geoPoint
	areas := geoSearchAreas(shape)
	full := func() bool { return limit > 0 && len(pts) >= limit }
	last := 0 // the last cell scanned; 0 also before any (as in Redis)
	for i, h := range areas {
		if h.isZero() {
			continue
		}
		// Very large radii make neighbours coincide: a cell equal to the
		// previously scanned one is not scanned twice.
		if last != 0 && h == areas[last] {
			continue
		}
		if full() {
			break
		}
		lo, hi := geoScoreRange(h)
		err := z.scanScores(lo, hi, func(member []byte, score float64) error {
			lon, lat := geoDecodeScore(score)
			if d, in := shape.contains(lon, lat); in {
				pts = append(pts, geoPoint{member: bytes.Clone(member), lon: lon, lat: lat, dist: d, score: score})
			}
			if full() {
				return keyspace.ErrStop
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		last = i
	}
	return pts, nil
}
