package cluster

// SetDTxnHook makes n's distributed transactions call f at each phase
// ("prewritten", "primary-committed"); an error from f stops them there,
// as a coordinator crash would (locks stay behind). Set it while no
// transaction runs.
func SetDTxnHook(n *Node, f func(phase string) error) { n.exec.dtxnHook = f }

// DTxnStats returns n's distributed transactions committed, attempts
// rerun after a conflict, and locks resolved by readers.
func DTxnStats(n *Node) (committed, conflicts, resolved int64) {
	s := &n.exec.dstats
	return s.committed.Load(), s.conflicts.Load(), s.resolved.Load()
}
