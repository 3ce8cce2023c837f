package pdclient

// LogicalBits is the number of low bits of a timestamp that hold the logical
// counter; the bits above hold the physical time in Unix milliseconds.
// Frozen: timestamps are stored in every MVCC record.
const LogicalBits = 18

// MaxLogical is the exclusive upper bound of the logical part: one
// millisecond holds at most MaxLogical-1 timestamps (logical 0 is never
// issued by PD).
const MaxLogical = 1 << LogicalBits

// ComposeTS builds a timestamp from a physical time in Unix milliseconds and
// a logical counter in [0, MaxLogical).
func ComposeTS(physicalMs int64, logical int64) uint64 {
	return uint64(physicalMs)<<LogicalBits | uint64(logical)&(MaxLogical-1)
}

// PhysicalMs returns the physical part of ts, in Unix milliseconds.
func PhysicalMs(ts uint64) int64 {
	return int64(ts >> LogicalBits)
}

// Logical returns the logical part of ts.
func Logical(ts uint64) int64 {
	return int64(ts & (MaxLogical - 1))
}
