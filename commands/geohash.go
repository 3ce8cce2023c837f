package commands

import "math"

// Geohash arithmetic of Redis 7.0's GEO commands (geohash.c and
// geohash_helper.c), written so that every intermediate double is computed
// the same way, in the same order, as Redis computes it: a geo set is a
// sorted set whose scores are these 52-bit hashes, so a different rounding
// anywhere would change which members a search finds, and the coordinates
// and distances it prints.
//
// A hash interleaves step bits of longitude (odd bit positions) with step
// bits of latitude (even positions); members are stored at step 26 (52
// bits). The latitude range is the Web Mercator one, not ±90.

const (
	geoStepMax = 26 // bits per coordinate in a stored score

	geoLatMin = -85.05112878
	geoLatMax = 85.05112878
	geoLonMin = -180.0
	geoLonMax = 180.0

	// geoEarthRadius is the Earth's quadratic mean radius Redis uses
	// (metres).
	geoEarthRadius = 6372797.560856
	// geoMercatorMax is half the Earth's circumference at the equator
	// (metres), the largest search radius a 1-bit step is chosen for.
	geoMercatorMax = 20037726.37

	// C computes M_PI/180.0 in doubles: pi rounded first, then divided.
	geoDegToRad = float64(math.Pi) / 180.0
)

// geoHashBits is a hash of step bits per coordinate. The zero value (step
// 0) marks a search area that was excluded.
type geoHashBits struct {
	bits uint64
	step uint8
}

func (h geoHashBits) isZero() bool { return h.bits == 0 && h.step == 0 }

// geoRange is an interval of one coordinate.
type geoRange struct{ min, max float64 }

// geoArea is the cell a hash names.
type geoArea struct{ lon, lat geoRange }

// Coordinate ranges: the stored hashes use Mercator latitudes; GEOHASH
// strings re-encode with the standard ±90.
var (
	geoLonRange    = geoRange{geoLonMin, geoLonMax}
	geoLatRange    = geoRange{geoLatMin, geoLatMax}
	geoStdLatRange = geoRange{-90, 90}
)

// geoInterleave spreads the bits of lat over the even positions and those
// of lon over the odd positions.
func geoInterleave(lat, lon uint32) uint64 {
	return geoSpread(lat) | geoSpread(lon)<<1
}

// geoSpread moves bit i of v to bit 2i.
func geoSpread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000FFFF0000FFFF
	x = (x | x<<8) & 0x00FF00FF00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F0F0F0F0F
	x = (x | x<<2) & 0x3333333333333333
	x = (x | x<<1) & 0x5555555555555555
	return x
}

// geoSqueeze collects the even bits of v (bit 2i to bit i).
func geoSqueeze(v uint64) uint32 {
	x := v & 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0F0F0F0F0F0F0F0F
	x = (x | x>>4) & 0x00FF00FF00FF00FF
	x = (x | x>>8) & 0x0000FFFF0000FFFF
	x = (x | x>>16) & 0x00000000FFFFFFFF
	return uint32(x)
}

// geohashEncode hashes a point at step bits per coordinate within the
// given ranges. ok is false for a point outside them (or outside the
// Mercator limits, which Redis checks as well).
func geohashEncode(lonR, latR geoRange, lon, lat float64, step uint8) (geoHashBits, bool) {
	if step > 32 || step == 0 {
		return geoHashBits{}, false
	}
	if lon > geoLonMax || lon < geoLonMin || lat > geoLatMax || lat < geoLatMin {
		return geoHashBits{}, false
	}
	if lat < latR.min || lat > latR.max || lon < lonR.min || lon > lonR.max {
		return geoHashBits{step: step}, false
	}
	latOff := (lat - latR.min) / (latR.max - latR.min)
	lonOff := (lon - lonR.min) / (lonR.max - lonR.min)
	scale := float64(uint64(1) << step)
	latOff *= scale
	lonOff *= scale
	// C converts the offsets to uint32_t, truncating. At the upper edge of
	// a range the offset is exactly 2^step, one bit more than the step
	// holds: Redis keeps that bit, and so do we.
	return geoHashBits{bits: geoInterleave(uint32(latOff), uint32(lonOff)), step: step}, true
}

// geohashDecode returns the cell of h. ok is false for a zero hash.
func geohashDecode(lonR, latR geoRange, h geoHashBits) (geoArea, bool) {
	if h.isZero() {
		return geoArea{}, false
	}
	ilat := geoSqueeze(h.bits)
	ilon := geoSqueeze(h.bits >> 1)
	latScale := latR.max - latR.min
	lonScale := lonR.max - lonR.min
	div := float64(uint64(1) << h.step)
	// ilat+1 is uint32 arithmetic in Redis too (it wraps for scores that
	// are not geohashes).
	return geoArea{
		lat: geoRange{
			min: latR.min + float64((float64(ilat)*1.0/div)*latScale),
			max: latR.min + float64((float64(ilat+1)*1.0/div)*latScale),
		},
		lon: geoRange{
			min: lonR.min + float64((float64(ilon)*1.0/div)*lonScale),
			max: lonR.min + float64((float64(ilon+1)*1.0/div)*lonScale),
		},
	}, true
}

// centre returns the middle of the cell, clamped to the valid ranges.
func (a geoArea) centre() (lon, lat float64) {
	lon = (a.lon.min + a.lon.max) / 2
	lon = math.Min(math.Max(lon, geoLonMin), geoLonMax)
	lat = (a.lat.min + a.lat.max) / 2
	lat = math.Min(math.Max(lat, geoLatMin), geoLatMax)
	return lon, lat
}

// geoScore returns the sorted-set score GEOADD stores for a valid point:
// the 52-bit hash as a double (rounded to nearest even, as Redis's strtod
// of the integer's decimal form rounds, for the few hashes at longitude
// 180 that need 54 bits).
func geoScore(lon, lat float64) float64 {
	h, _ := geohashEncode(geoLonRange, geoLatRange, lon, lat, geoStepMax)
	return float64(geoAlign52(h))
}

// geoAlign52 shifts a hash of fewer steps to the 52-bit score scale.
func geoAlign52(h geoHashBits) uint64 {
	return h.bits << (52 - uint(h.step)*2)
}

// geoDecodeScore returns the point a score stands for: the centre of its
// step-26 cell. Any score decodes (Redis never fails here); scores that no
// GEOADD wrote give clamped, meaningless points, as in Redis.
func geoDecodeScore(score float64) (lon, lat float64) {
	a, _ := geohashDecode(geoLonRange, geoLatRange, geoHashBits{bits: cDoubleToUint64(score), step: geoStepMax})
	return a.centre()
}

// geohashString is GEOHASH's 11-character form of a score: the point
// re-encoded with the standard latitude range, 5 bits per character, and a
// final '0' because 52 bits fill only 10 characters and a half.
func geohashString(score float64) [11]byte {
	const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
	lon, lat := geoDecodeScore(score)
	h, _ := geohashEncode(geoLonRange, geoStdLatRange, lon, lat, geoStepMax)
	var out [11]byte
	for i := 0; i < 10; i++ {
		out[i] = alphabet[(h.bits>>(52-(uint(i)+1)*5))&0x1f]
	}
	out[10] = alphabet[0]
	return out
}

// cDoubleToUint64 converts like C's (uint64_t)d as GCC compiles it on
// x86-64 (Redis's decodeGeohash does this to any zset score): values below
// 2^63 go through a signed truncation (so negatives wrap), larger ones are
// offset by 2^63; out-of-range values give the CPU's "integer indefinite".
func cDoubleToUint64(d float64) uint64 {
	const two63 = 9223372036854775808.0
	if d >= two63 {
		return uint64(cDoubleToInt64(d-two63)) ^ (1 << 63)
	}
	return uint64(cDoubleToInt64(d))
}

// cDoubleToInt64 is x86-64's cvttsd2si: truncation, and math.MinInt64 for
// NaN and values outside the int64 range.
func cDoubleToInt64(d float64) int64 {
	const two63 = 9223372036854775808.0
	if math.IsNaN(d) || d >= two63 || d < -two63 {
		return math.MinInt64
	}
	return int64(d)
}

// geoMoveX moves a hash d cells east (d > 0) or west (d < 0), wrapping
// around the antimeridian.
func geoMoveX(h *geoHashBits, d int) {
	if d == 0 {
		return
	}
	x := h.bits & 0xaaaaaaaaaaaaaaaa
	y := h.bits & 0x5555555555555555
	zz := uint64(0x5555555555555555) >> (64 - uint(h.step)*2)
	if d > 0 {
		x += zz + 1
	} else {
		x |= zz
		x -= zz + 1
	}
	x &= 0xaaaaaaaaaaaaaaaa >> (64 - uint(h.step)*2)
	h.bits = x | y
}

// geoMoveY moves a hash d cells north (d > 0) or south (d < 0), wrapping
// at the poles.
func geoMoveY(h *geoHashBits, d int) {
	if d == 0 {
		return
	}
	x := h.bits & 0xaaaaaaaaaaaaaaaa
	y := h.bits & 0x5555555555555555
	zz := uint64(0xaaaaaaaaaaaaaaaa) >> (64 - uint(h.step)*2)
	if d > 0 {
		y += zz + 1
	} else {
		y |= zz
		y -= zz + 1
	}
	y &= 0x5555555555555555 >> (64 - uint(h.step)*2)
	h.bits = x | y
}

// geoNeighbour returns the cell dx east and dy north of h.
func geoNeighbour(h geoHashBits, dx, dy int) geoHashBits {
	geoMoveX(&h, dx)
	geoMoveY(&h, dy)
	return h
}

// geoDistance is the haversine great-circle distance in metres. The
// float64 conversions keep the compiler from fusing a multiply and an add
// (which Go allows and does on some CPUs): Redis's build rounds each.
func geoDistance(lon1d, lat1d, lon2d, lat2d float64) float64 {
	lat1r := lat1d * geoDegToRad
	lon1r := lon1d * geoDegToRad
	lat2r := lat2d * geoDegToRad
	lon2r := lon2d * geoDegToRad
	u := geoSin((lat2r - lat1r) / 2)
	v := geoSin((lon2r - lon1r) / 2)
	a := float64(u*u) + float64(float64(float64(geoCos(lat1r)*geoCos(lat2r))*v)*v)
	return 2.0 * geoEarthRadius * geoAsin(math.Sqrt(a))
}

// geoShape is a search area: a circle of radius, or a width x height box,
// around (lon, lat), with its lengths in the unit whose size in metres is
// conversion.
type geoShape struct {
	lon, lat      float64
	box           bool
	radius        float64 // circle
	width, height float64 // box
	conversion    float64
}

// contains reports whether the point (lon, lat) is inside the shape, and
// its distance from the centre in metres.
func (s *geoShape) contains(lon, lat float64) (float64, bool) {
	if !s.box {
		d := geoDistance(s.lon, s.lat, lon, lat)
		return d, !(d > s.radius*s.conversion)
	}
	// The box's sides are measured along the point's parallel and the
	// point's meridian.
	widthM, heightM := s.width*s.conversion, s.height*s.conversion
	lonDist := geoDistance(lon, lat, s.lon, lat)
	latDist := geoDistance(lon, lat, lon, s.lat)
	if lonDist > widthM/2 || latDist > heightM/2 {
		return 0, false
	}
	return geoDistance(s.lon, s.lat, lon, lat), true
}

// geoEstimateSteps picks the step whose cells are about as large as the
// search radius, coarser towards the poles where meridians converge.
func geoEstimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < geoMercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

// boundingBox returns the longitude and latitude limits of the shape: in
// each hemisphere the side nearer the pole spans more longitude.
func (s *geoShape) boundingBox() (minLon, minLat, maxLon, maxLat float64) {
	height, width := s.conversion*s.radius, s.conversion*s.radius
	if s.box {
		height = s.conversion * (s.height / 2)
		width = s.conversion * (s.width / 2)
	}
	latDelta := (height / geoEarthRadius) / geoDegToRad
	lonDeltaTop := (width / geoEarthRadius / geoCos((s.lat+latDelta)*geoDegToRad)) / geoDegToRad
	lonDeltaBottom := (width / geoEarthRadius / geoCos((s.lat-latDelta)*geoDegToRad)) / geoDegToRad
	if s.lat < 0 {
		minLon, maxLon = s.lon-lonDeltaBottom, s.lon+lonDeltaBottom
	} else {
		minLon, maxLon = s.lon-lonDeltaTop, s.lon+lonDeltaTop
	}
	return minLon, s.lat - latDelta, maxLon, s.lat + latDelta
}

// geoSearchAreas returns the cells a search of shape must scan, in Redis's
// order: the centre's cell, then north, south, east, west, north-east,
// north-west, south-east, south-west. Excluded neighbours are zero.
func geoSearchAreas(s *geoShape) [9]geoHashBits {
	minLon, minLat, maxLon, maxLat := s.boundingBox()
	radiusM := s.radius
	if s.box {
		radiusM = math.Sqrt(float64((s.width/2)*(s.width/2)) + float64((s.height/2)*(s.height/2)))
	}
	radiusM *= s.conversion
	steps := geoEstimateSteps(radiusM, s.lat)

	var hash geoHashBits
	var area geoArea
	var n [9]geoHashBits
	cells := func() {
		hash, _ = geohashEncode(geoLonRange, geoLatRange, s.lon, s.lat, steps)
		n = [9]geoHashBits{
			hash,
			geoNeighbour(hash, 0, 1), geoNeighbour(hash, 0, -1),
			geoNeighbour(hash, 1, 0), geoNeighbour(hash, -1, 0),
			geoNeighbour(hash, 1, 1), geoNeighbour(hash, -1, 1),
			geoNeighbour(hash, 1, -1), geoNeighbour(hash, -1, -1),
		}
		area, _ = geohashDecode(geoLonRange, geoLatRange, hash)
	}
	cells()

	// The estimate can be one step too fine near a cell's edge: then the
	// neighbours do not reach the bounding box, and a coarser step does.
	north, _ := geohashDecode(geoLonRange, geoLatRange, n[1])
	south, _ := geohashDecode(geoLonRange, geoLatRange, n[2])
	east, _ := geohashDecode(geoLonRange, geoLatRange, n[3])
	west, _ := geohashDecode(geoLonRange, geoLatRange, n[4])
	decrease := north.lat.max < maxLat || south.lat.min > minLat ||
		east.lon.max < maxLon || west.lon.min > minLon
	if steps > 1 && decrease {
		steps--
		cells()
	}

	// Drop the neighbours on a side the search area does not reach.
	if steps >= 2 {
		const (
			iN, iS, iE, iW, iNE, iNW, iSE, iSW = 1, 2, 3, 4, 5, 6, 7, 8
		)
		if area.lat.min < minLat {
			n[iS], n[iSW], n[iSE] = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.lat.max > maxLat {
			n[iN], n[iNE], n[iNW] = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.lon.min < minLon {
			n[iW], n[iSW], n[iNW] = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
		if area.lon.max > maxLon {
			n[iE], n[iSE], n[iNE] = geoHashBits{}, geoHashBits{}, geoHashBits{}
		}
	}
	return n
}

// geoScoreRange is the score interval [min, max) of every step-26 member
// inside the cell h.
func geoScoreRange(h geoHashBits) (lo, hi float64) {
	lo = float64(geoAlign52(h))
	h.bits++
	return lo, float64(geoAlign52(h))
}

// geoPoint is one search result.
type geoPoint struct {
	member   []byte
	lon, lat float64
	dist     float64 // metres until the reply converts it
	score    float64
}

// geoComparePoints is Redis's sort_gp_asc (NaN compares as smaller).
func geoComparePoints(a, b *geoPoint) int {
	switch {
	case a.dist > b.dist:
		return 1
	case a.dist == b.dist:
		return 0
	}
	return -1
}

// geoPartialSort orders pts so that pts[lo..hi] hold what a full sort
// would put there, with cmp, exactly as Redis's pqsort (a Bentley-McIlroy
// quicksort that skips partitions outside [lo, hi]) does: GEORADIUS with
// COUNT uses it, and points at equal distances come out in its order, not
// a stable one.
func geoPartialSort(pts []geoPoint, cmp func(a, b *geoPoint) int, lo, hi int) {
	geoPQSort(pts, 0, len(pts), cmp, lo, hi)
}

func geoPQSort(p []geoPoint, a, n int, cmp func(a, b *geoPoint) int, lo, hi int) {
	c := func(i, j int) int { return cmp(&p[i], &p[j]) }
	swap := func(i, j int) { p[i], p[j] = p[j], p[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	med3 := func(x, y, z int) int {
		if c(x, y) < 0 {
			if c(y, z) < 0 {
				return y
			}
			if c(x, z) < 0 {
				return z
			}
			return x
		}
		if c(y, z) > 0 {
			return y
		}
		if c(x, z) < 0 {
			return x
		}
		return z
	}
	insertion := func() {
		for m := a + 1; m < a+n; m++ {
			for l := m; l > a && c(l-1, l) > 0; l-- {
				swap(l, l-1)
			}
		}
	}
	for {
		if n < 7 {
			insertion()
			return
		}
		pm := a + n/2
		if n > 7 {
			pl, pn := a, a+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(a, pm)
		pa, pb := a+1, a+1
		pc, pd := a+n-1, a+n-1
		swapped := false
		for {
			for pb <= pc {
				r := c(pb, a)
				if r > 0 {
					break
				}
				if r == 0 {
					swapped = true
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := c(pc, a)
				if r < 0 {
					break
				}
				if r == 0 {
					swapped = true
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			swapped = true
			pb++
			pc--
		}
		if !swapped {
			insertion()
			return
		}
		pn := a + n
		r := min(pa-a, pb-pa)
		vecswap(a, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		// A partition is sorted further only if [lo, hi] overlaps it.
		overlaps := func(s, m int) bool { return !((lo < s && hi < s) || (lo >= s+m && hi >= s+m)) }
		if r = pb - pa; r > 1 && overlaps(a, r) {
			geoPQSort(p, a, r, cmp, lo, hi)
		}
		r = pd - pc
		if r <= 1 {
			return
		}
		a, n = pn-r, r
		if !overlaps(a, n) {
			return
		}
	}
}

// Trigonometry. Products that feed a sum are converted with float64(),
// which forbids the compiler to fuse them into one FMA (Go may, on some
// CPUs): the error-free transformations below need each rounding.
//
// Redis calls the C library's sin, cos and asin, which on
// glibc are (almost always) correctly rounded; Go's math package is only
// accurate to about one unit in the last place and disagrees with glibc in
// the last bit of a third of all distances. Distances are visible at full
// precision (GEOSEARCHSTORE ... STOREDIST), so these functions evaluate in
// double-double arithmetic (about 106 bits) and round once, which gives the
// correctly rounded result except in cases too close to call at that
// precision. glibc 2.36 itself misrounds about one input in a thousand
// (measured on x86-64); there, and so in about one distance in 250,
// Skerry's last bit differs from Redis's.

// dd is an unevaluated sum hi+lo with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func ddTwoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func ddFastTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func ddTwoProd(a, b float64) dd {
	p := float64(a * b)
	return dd{p, math.FMA(a, b, -p)}
}

func (x dd) add(y dd) dd {
	s := ddTwoSum(x.hi, y.hi)
	t := ddTwoSum(x.lo, y.lo)
	s.lo += t.hi
	s = ddFastTwoSum(s.hi, s.lo)
	s.lo += t.lo
	return ddFastTwoSum(s.hi, s.lo)
}

func (x dd) neg() dd { return dd{-x.hi, -x.lo} }

func (x dd) mul(y dd) dd {
	p := ddTwoProd(x.hi, y.hi)
	p.lo += float64(x.hi*y.lo) + float64(x.lo*y.hi)
	return ddFastTwoSum(p.hi, p.lo)
}

func (x dd) mulFloat(y float64) dd {
	p := ddTwoProd(x.hi, y)
	p.lo += float64(x.lo * y)
	return ddFastTwoSum(p.hi, p.lo)
}

// Constants for argument reduction: pi/2 as the sum of three doubles, and
// pi/2 as a double-double.
const (
	geoPiOver2Hi  = 1.5707963267948966
	geoPiOver2Mid = 6.123233995736766e-17
	geoPiOver2Lo  = -1.4973849048591698e-33
)

// Taylor coefficients (-1)^k/(2k+1)! and (-1)^k/(2k)! as double-doubles,
// highest degree last.
var geoSinCoef, geoCosCoef = geoTaylorCoefficients()

const geoTaylorTerms = 16

func geoTaylorCoefficients() (sin, cos [geoTaylorTerms]dd) {
	fact := dd{1, 0} // n!, exact as a double up to 22! and to 106 bits after
	for n := 0; n < 2*geoTaylorTerms; n++ {
		if n > 0 {
			fact = fact.mulFloat(float64(n))
		}
		c := ddDiv(dd{1, 0}, fact)
		if (n/2)%2 == 1 {
			c = c.neg()
		}
		if n%2 == 0 {
			cos[n/2] = c
		} else {
			sin[n/2] = c
		}
	}
	return sin, cos
}

// ddDiv returns x/y to double-double precision (two Newton corrections of
// the double quotient).
func ddDiv(x, y dd) dd {
	q1 := x.hi / y.hi
	r := x.add(y.mulFloat(q1).neg())
	q2 := r.hi / y.hi
	r = r.add(y.mulFloat(q2).neg())
	q3 := r.hi / y.hi
	q := ddFastTwoSum(q1, q2)
	return q.add(dd{q3, 0})
}

// geoReduce returns r = x - k*pi/2 as a double-double and k mod 4, for
// |x| <= 5*pi/4 (k in -2..2, where x - k*pi/2 is exact in the leading
// term); ok is false beyond that.
func geoReduce(x float64) (r dd, quadrant int, ok bool) {
	ax := math.Abs(x)
	if ax <= math.Pi/4 {
		return dd{x, 0}, 0, true
	}
	if ax > 5*math.Pi/4 || math.IsNaN(x) {
		return dd{}, 0, false
	}
	k := math.Round(x / geoPiOver2Hi)
	hi := x - float64(k*geoPiOver2Hi) // exact (Sterbenz) for k in -2..2
	r = ddTwoSum(hi, float64(-k*geoPiOver2Mid)).add(dd{-k * geoPiOver2Lo, 0})
	return r, (int(k)%4 + 4) % 4, true
}

// geoTaylor evaluates sum c[i] * r2^i by Horner's rule to double-double
// accuracy (|r2| <= (pi/4)^2 < 0.62). Per magnitude class of r2 it uses
// n terms (the rest are below 2^-110) and evaluates the terms from m on in
// plain doubles, where |c[m]|*r2^m < 2^-56 keeps their rounding out of
// reach of the result.
func geoTaylor(c *[geoTaylorTerms]dd, r2 dd) dd {
	n, m := 15, 9
	switch a := math.Abs(r2.hi); {
	case a < 1e-20:
		n, m = 4, 1
	case a < 1e-8:
		n, m = 7, 2
	case a < 1e-3:
		n, m = 10, 5
	case a < 0.1:
		n, m = 13, 7
	}
	tail := c[n-1].hi
	for i := n - 2; i >= m; i-- {
		tail = float64(tail*r2.hi) + c[i].hi
	}
	s := dd{tail, 0}
	for i := m - 1; i >= 0; i-- {
		// s = s*r2 + c[i]. The "sloppy" addition is exact enough here:
		// |s*r2| < |c[i]|/9, so nothing cancels.
		p := float64(s.hi * r2.hi)
		plo := math.FMA(s.hi, r2.hi, -p) + (float64(s.hi*r2.lo) + float64(s.lo*r2.hi))
		t := p + c[i].hi
		bb := t - p
		tlo := (p - (t - bb)) + (c[i].hi - bb) + plo + c[i].lo
		s.hi = t + tlo
		s.lo = tlo - (s.hi - t)
	}
	return s
}

// geoSinDD and geoCosDD return sin(x) and cos(x) as double-doubles for a
// double-double |x| <= pi/4.
func geoSinDD(x dd) dd { return geoTaylor(&geoSinCoef, x.mul(x)).mul(x) }

func geoCosDD(x dd) dd { return geoTaylor(&geoCosCoef, x.mul(x)) }

// geoSin is sin(x) correctly rounded (math.Sin outside |x| <= 5pi/4, which
// geo searches never need exactly).
func geoSin(x float64) float64 {
	r, q, ok := geoReduce(x)
	if !ok {
		return math.Sin(x)
	}
	var s dd
	switch q {
	case 0:
		if x == 0 {
			return x // keeps -0
		}
		s = geoSinDD(r)
	case 1:
		s = geoCosDD(r)
	case 2:
		s = geoSinDD(r).neg()
	case 3:
		s = geoCosDD(r).neg()
	}
	return s.hi + s.lo
}

// geoCos is cos(x) correctly rounded (math.Cos outside |x| <= 5pi/4).
func geoCos(x float64) float64 {
	r, q, ok := geoReduce(x)
	if !ok {
		return math.Cos(x)
	}
	var c dd
	switch q {
	case 0:
		c = geoCosDD(r)
	case 1:
		c = geoSinDD(r).neg()
	case 2:
		c = geoCosDD(r).neg()
	case 3:
		c = geoSinDD(r)
	}
	return c.hi + c.lo
}

// geoAsinDD returns asin(x) as a double-double for 0 <= x <= 0.5 (a
// double-double): one Newton step on sin(y) = x from Go's asin, which is
// within a few ulps, so the step leaves an error far below 2^-100. The
// step is a correction of a few ulps, so cos(y) is needed only roughly.
func geoAsinDD(x dd) dd {
	y0 := math.Asin(x.hi)
	f := geoSinDD(dd{y0, 0}).add(x.neg())
	return ddTwoSum(y0, -(f.hi+f.lo)/math.Cos(y0))
}

// geoAsin is asin(x) correctly rounded; NaN outside [-1, 1].
func geoAsin(x float64) float64 {
	switch {
	case math.IsNaN(x) || x > 1 || x < -1:
		return math.NaN()
	case x < 0:
		return -geoAsin(-x)
	case x == 0:
		return x
	case x <= 0.5:
		r := geoAsinDD(dd{x, 0})
		return r.hi + r.lo
	}
	// asin(x) = pi/2 - 2 asin(sqrt((1-x)/2)), where (1-x)/2 is exact.
	t := (1 - x) / 2
	var z dd // sqrt(t) to double-double precision
	if t != 0 {
		z0 := math.Sqrt(t)
		z = ddFastTwoSum(z0, math.FMA(-z0, z0, t)/(2*z0))
	}
	w := geoAsinDD(z)
	r := dd{geoPiOver2Hi, geoPiOver2Mid}.add(w.mulFloat(-2))
	return r.hi + r.lo
}
