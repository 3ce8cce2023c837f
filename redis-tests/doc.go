// Package redistests holds Skerry's black-box Redis 7.0 compatibility transcripts and the
// machinery to run them.
//
// The transcripts (testdata/*.txt) are lists of commands, each followed by the reply a real
// Redis 7.0 gave, rendered exactly and type-preservingly (see Head and Pattern). They were
// recorded from a real redis-server and are the specification: Skerry must give the same
// replies byte for byte. The package owns:
//
//   - a raw RESP2/RESP3 client (Conn, ReadValue) that keeps every wire type;
//   - the transcript format (Parse, Transcript.Text), the reply rendering (Render, Head) and
//     the matchers for replies Redis itself makes non-deterministic (Pattern);
//   - the runner (Run) and a launcher for a throwaway real redis-server (StartRedisServer).
//
// Invariants: every transcript starts from an empty server (Run flushes all databases first);
// a transcript that changes server configuration restores it before it ends; matchers are used
// only where Redis's own reply varies between runs. Run the transcripts with
// go test ./redis-tests [-addr host:port | -live | -rewrite]; see README.md.
package redistests
