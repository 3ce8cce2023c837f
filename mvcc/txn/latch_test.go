package txn

import (
	"testing"
)

// Shared holders of a key's latch do not wait for each other; an exclusive
// holder excludes them, and they it. Other keys are not held back.
func TestLatchesShared(t *testing.T) {
	l := NewLatches(64)
	hot := []byte("hot")
	slot := &l.slots[l.slotOf(hot)]
	k := [][]byte{hot}
	r1 := l.AcquireShared(k)
	r2 := l.AcquireShared(k) // would block for good if exclusive
	if slot.TryLock() {
		t.Fatal("the slot could be locked beside two shared holders")
	}
	r1.Release()
	if slot.TryLock() {
		t.Fatal("the slot could be locked beside a shared holder")
	}
	r2.Release()
	if !slot.TryLock() {
		t.Fatal("the slot stayed held after both shared holders released it")
	}
	slot.Unlock()

	w := l.Acquire(k)
	if slot.TryRLock() {
		t.Fatal("the slot could be shared beside an exclusive holder")
	}
	var other []byte
	for i := range 256 {
		if c := []byte{byte(i)}; l.slotOf(c) != l.slotOf(hot) {
			other = c
			break
		}
	}
	l.AcquireShared([][]byte{other}).Release()
	l.Acquire([][]byte{other}).Release()
	w.Release()
	if !slot.TryRLock() {
		t.Fatal("the slot stayed held after the exclusive holder released it")
	}
	slot.RUnlock()
	l.Acquire(nil).Release() // the whole keyspace: nothing is held
}
