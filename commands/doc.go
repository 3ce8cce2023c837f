// Package commands is the command table and the command bodies of Skerry's
// Redis protocol: one Table of Commands (name, arity, flags, key
// positions, ACL categories, handler), a Dispatcher that implements
// resp.Handler, and one file per command family (connection.go,
// server.go, info.go, keys.go, expire.go, command_cmd.go, strings.go,
// bitmap.go...). errors.go is the one place Go errors become RESP errors.
//
// Command metadata is never typed by hand: redis70_commands.json holds the
// COMMAND INFO, COMMAND DOCS and HELP reply trees of every Redis 7.0
// command, recorded from a real redis-server by internal/gencommands
// (go generate), embedded, and applied by Table.Register. COMMAND replies
// are the recorded trees narrowed to the registered commands, re-encoded
// for the client's protocol.
//
// Usage: build the table with NewRedisTable, fill an Env (Store, Config,
// Stats...) and serve with NewDispatcher. Data commands (Command.Data) run
// inside Store.Update/View over their key arguments (nil keys: the whole
// keyspace); other commands run directly.
//
// Cluster protocol (cluster.go): Env.Cluster (a ClusterView, nil on a
// node without cluster support) gives the CLUSTER commands the slot map;
// with Env.ClusterRedirect the dispatcher answers -MOVED instead of
// forwarding a single-slot keyed command that the Store says another node
// serves (NotLocalError), except for forwarded calls, MULTI queues and
// READONLY reads. The dispatcher marks the Store.View context of a
// READONLY connection's read (not forwarded) with WithReplicaRead: the
// Store may then serve it on a follower replica, still linearizably.
// Every keyed command a client sends is counted once by
// where it was served (Stats.RecordRoute: local, forwarded, redirected;
// the skerry_cluster_requests_total metric); commands run for another
// node are not counted. CLUSTER MYSHARDID is the one Redis 7.2 command
// (afterRedis70): it has no recorded 7.0 metadata.
//
// Invariants:
//   - Registering a name twice, a subcommand before its parent, or an
//     Arity that contradicts Redis panics at start-up.
//   - A handler that returns an error has its partial reply discarded; a
//     data command body may run more than once and must only touch c.DB.
//   - Expiry and TTL arithmetic use the transaction's clock
//     (c.DB.NowMs), never the node's.
package commands
