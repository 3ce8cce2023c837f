package commands

import "context"

// replicaReadKey marks the context of a read any replica may serve.
type replicaReadKey struct{}

// WithReplicaRead returns ctx marked for Store.View: the read comes from a
// READONLY client connection (DESIGN.md §8), so the Store may serve it on a
// follower replica of the keys' region instead of answering NotLocalError,
// provided the read stays linearizable (a ReadIndex barrier: never stale).
// The dispatcher marks reads of READONLY connections that were not
// forwarded; writes and forwarded calls are never marked.
func WithReplicaRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaReadKey{}, true)
}

// ReplicaRead reports whether ctx was marked by WithReplicaRead.
func ReplicaRead(ctx context.Context) bool {
	v, _ := ctx.Value(replicaReadKey{}).(bool)
	return v
}
