package ctl

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skerrydb/skerry/mvcc/keys"
)

func TestSlotsOf(t *testing.T) {
	foo := keys.MetaKey(0, []byte("foo")) // slot 12182
	for _, tc := range []struct {
		name       string
		start, end []byte
		want       string
	}{
		{"whole keyspace", nil, nil, "0-16383"},
		{"first half", nil, keys.SlotPrefix(8192), "0-8191"},
		{"second half", keys.SlotPrefix(8192), nil, "8192-16383"},
		{"one slot", keys.SlotPrefix(5), keys.SlotPrefix(6), "5"},
		{"db prefix is a slot boundary", keys.SlotDBPrefix(5, 0), keys.SlotDBPrefix(7, 0), "5-6"},
		{"ends inside a slot", nil, foo, "0-12182*"},
		{"starts inside a slot", foo, nil, "12182*-16383"},
		{"inside one slot", foo, keys.MetaKey(0, []byte("{foo}x")), "12182*"},
		{"one-byte bounds", []byte{0x01}, []byte{0x02}, "256-511"},
		{"ends past the slot space", keys.SlotPrefix(16000), []byte{0xff}, "16000-16383"},
		{"starts past the slot space", []byte{0x40, 0x00}, nil, "-"},
		{"ends at slot 0", nil, keys.SlotPrefix(0), "-"},
		{"empty range", keys.SlotPrefix(9), keys.SlotPrefix(9), "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SlotsOf(tc.start, tc.end).String(); got != tc.want {
				t.Fatalf("SlotsOf(%x, %x) = %s, want %s", tc.start, tc.end, got, tc.want)
			}
		})
	}
	if r := SlotsOf(foo, nil); !r.FirstPartial || r.LastPartial || r.First != 12182 || r.Last != 16383 {
		t.Fatalf("fields: %+v", r)
	}
}

func TestDescribeKey(t *testing.T) {
	expiry, _ := keys.ExpiryIndexRange(7, 0)
	for _, tc := range []struct {
		key  []byte
		want string
	}{
		{nil, ""},
		{[]byte{0x12}, "0x12"},
		{keys.SlotPrefix(100), "slot 100"},
		{keys.SlotDBPrefix(100, 3), "slot 100 db 3"},
		{keys.MetaKey(0, []byte("foo")), `slot 12182 db 0 "foo"`},
		{keys.MetaKey(2, []byte("a\tb\"")), `slot 6303 db 2 "a\tb\""`},
		{keys.MemberKey(0, []byte("foo"), 1, []byte("f")), `slot 12182 db 0 "foo"+0x000000000000000166`},
		{expiry, "slot 7 expiry"},
		{keys.ExpiryIndexKey(0, []byte("x"), 1), "slot 16287 expiry+0x00000000000000010000000001" + "78"},
		{[]byte{0x40, 0x00, 0x01}, "0x400001"},
		// A slot prefix that does not match the key's own slot is not a
		// metadata record.
		{append(keys.SlotPrefix(1), keys.MetaKey(0, []byte("foo"))[2:]...), "0x0001000000000366" + "6f6f"},
	} {
		if got := DescribeKey(tc.key); got != tc.want {
			t.Errorf("DescribeKey(%x) = %s, want %s", tc.key, got, tc.want)
		}
	}
}

func TestSplitKeys(t *testing.T) {
	k, err := KeySplitKey(1, "foo")
	if err != nil || !bytes.Equal(k, keys.MetaKey(1, []byte("foo"))) {
		t.Fatalf("KeySplitKey = %x, %v", k, err)
	}
	if _, err := KeySplitKey(16, "foo"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("db 16: %v", err)
	}
	k, err = SlotSplitKey(8192)
	if err != nil || !bytes.Equal(k, []byte{0x20, 0x00}) {
		t.Fatalf("SlotSplitKey = %x, %v", k, err)
	}
	for _, bad := range []int{0, -1, 16384} {
		if _, err := SlotSplitKey(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("slot %d: %v", bad, err)
		}
	}
}
