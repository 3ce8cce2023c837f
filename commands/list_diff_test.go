package commands

import (
	"encoding/binary"
	"math/rand"
	"strconv"
	"testing"

	"github.com/skerrydb/skerry/commands/keyspace"
	"github.com/skerrydb/skerry/mvcc/keys"
)

// TestListDifferential sends the same seeded random list commands to the
// harness and to a fresh redis-server (skipped when it is not installed),
// in RESP2 and RESP3, and requires byte-identical replies. After every
// command it also checks the storage invariant of every list: exactly
// Size element records, all inside [Head, Tail), under the current
// version.
func TestListDifferential(t *testing.T) {
	rr := startRealRedis(t)
	for _, proto := range []int{2, 3} {
		for seed := int64(1); seed <= 3; seed++ {
			rr.do(t, "HELLO", strconv.Itoa(proto))
			rr.do(t, "FLUSHALL")
			h := newHarness(t)
			h.c.Proto = proto
			runListDiff(t, rr, h, rand.New(rand.NewSource(seed*10+int64(proto))), 2500)
		}
	}
}

func runListDiff(t *testing.T, rr *realRedis, h *harness, rng *rand.Rand, steps int) {
	t.Helper()
	listKeys := []string{"l1", "l2", "l3", "str"}
	key := func() string { return listKeys[rng.Intn(len(listKeys))] }
	elems := []string{"a", "b", "c", "", "a\x00b", "1"}
	elem := func() string { return elems[rng.Intn(len(elems))] }
	idx := func() string {
		switch rng.Intn(8) {
		case 0:
			return strconv.FormatInt(rng.Int63(), 10)
		case 1:
			return strconv.FormatInt(-rng.Int63()-1, 10)
		case 2:
			return []string{"x", "1.5", "-0", "+1", "9223372036854775808"}[rng.Intn(5)]
		default:
			return strconv.Itoa(rng.Intn(24) - 12)
		}
	}
	count := func() string {
		switch rng.Intn(6) {
		case 0:
			return "9223372036854775807"
		case 1:
			return strconv.Itoa(rng.Intn(3) - 1)
		default:
			return strconv.Itoa(rng.Intn(8))
		}
	}
	end := func() string { return []string{"LEFT", "RIGHT", "left", "up"}[rng.Intn(4)] }
	pushArgs := func(cmd string) []string {
		args := []string{cmd, key()}
		for n := 1 + rng.Intn(5); n > 0; n-- {
			args = append(args, elem())
		}
		return args
	}
	bigPush := func() []string {
		args := []string{[]string{"LPUSH", "RPUSH"}[rng.Intn(2)], key()}
		for n := 20 + rng.Intn(40); n > 0; n-- {
			args = append(args, elem())
		}
		return args
	}
	gens := []func() []string{
		bigPush,
		func() []string { return pushArgs("LPUSH") },
		func() []string { return pushArgs("RPUSH") },
		func() []string { return pushArgs("RPUSH") },
		func() []string { return pushArgs("LPUSHX") },
		func() []string { return pushArgs("RPUSHX") },
		func() []string { return []string{"LPOP", key()} },
		func() []string { return []string{"RPOP", key(), count()} },
		func() []string { return []string{"LPOP", key(), count()} },
		func() []string { return []string{"LLEN", key()} },
		func() []string { return []string{"LRANGE", key(), idx(), idx()} },
		func() []string { return []string{"LINDEX", key(), idx()} },
		func() []string { return []string{"LSET", key(), idx(), elem()} },
		func() []string {
			return []string{"LINSERT", key(), []string{"BEFORE", "after", "x"}[rng.Intn(3)], elem(), elem()}
		},
		func() []string { return []string{"LREM", key(), idx(), elem()} },
		func() []string { return []string{"LREM", key(), strconv.Itoa(rng.Intn(7) - 3), elem()} },
		func() []string { return []string{"LTRIM", key(), idx(), idx()} },
		func() []string {
			return []string{"LTRIM", key(), strconv.Itoa(rng.Intn(4)), strconv.Itoa(rng.Intn(6) - 2)}
		},
		func() []string {
			args := []string{"LPOS", key(), elem()}
			for n := rng.Intn(4); n > 0; n-- {
				switch rng.Intn(4) {
				case 0:
					args = append(args, "RANK", []string{"1", "2", "-1", "-2", "0", "-9223372036854775808", "3"}[rng.Intn(7)])
				case 1:
					args = append(args, "COUNT", count())
				case 2:
					args = append(args, "MAXLEN", count())
				default:
					args = append(args, "RANK")
				}
			}
			return args
		},
		func() []string { return []string{"LMOVE", key(), key(), end(), end()} },
		func() []string { return []string{"RPOPLPUSH", key(), key()} },
		func() []string {
			n := rng.Intn(4)
			args := []string{"LMPOP", strconv.Itoa(n)}
			for i := 0; i < n; i++ {
				args = append(args, key())
			}
			args = append(args, end())
			if rng.Intn(2) == 0 {
				args = append(args, "COUNT", count())
			}
			return args
		},
		func() []string { return []string{"SET", "str", elem()} },
		func() []string { return []string{"DEL", key()} },
	}
	for i := 0; i < steps; i++ {
		args := gens[rng.Intn(len(gens))]()
		want := rr.do(t, args...)
		if got := h.do(args...); got != want {
			t.Fatalf("step %d %q (RESP%d): skerry %q, redis %q", i, args, h.c.Proto, got, want)
		}
		for _, k := range listKeys[:3] {
			checkListRecords(t, h, k)
		}
	}
	for _, k := range listKeys {
		args := []string{"LRANGE", k, "0", "-1"}
		if got, want := h.do(args...), rr.do(t, args...); got != want {
			t.Fatalf("final %q: skerry %q, redis %q", args, got, want)
		}
	}
}

// checkListRecords fails unless the list at key (if any) has exactly
// Size element records under its version, all within [Head, Tail).
func checkListRecords(t *testing.T, h *harness, key string) {
	t.Helper()
	db := keyspace.New(h.store.Txn(), 0)
	m, ok, err := db.GetCollection([]byte(key), keyspace.TypeList)
	if err != nil || !ok {
		return
	}
	if m.Size == 0 || m.Tail-m.Head != m.Size {
		t.Fatalf("%s: meta %+v", key, m)
	}
	prefix := keys.MemberPrefix(0, []byte(key), m.Version)
	n := uint64(0)
	err = db.Txn().Scan(prefix, keys.PrefixEnd(prefix), false, func(k, _ []byte) error {
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		if seq < m.Head || seq >= m.Tail {
			t.Fatalf("%s: record at %d outside [%d, %d)", key, seq, m.Head, m.Tail)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != m.Size {
		t.Fatalf("%s: %d records, size %d", key, n, m.Size)
	}
}
