// Package resp is Skerry's Redis-protocol front door: it accepts client
// connections (optionally TLS), parses RESP2 requests (multibulk and inline)
// byte-for-byte as Redis 7.0 does, keeps per-connection state, and encodes
// replies in RESP2 or RESP3. It knows no command: every request goes to a
// Handler (package commands), and it imports no other project package.
//
// What it owns:
//   - Server: the accept loop, the MaxClients limit, one goroutine per
//     connection, the counters INFO needs (Stats), the list of clients
//     (Clients) for CLIENT LIST / CLIENT KILL.
//   - Parser: the incremental request parser, with Redis's exact protocol
//     error texts ("-ERR Protocol error: ...") and limits
//     (proto-max-bulk-len, 64 KiB inline and length lines, INT_MAX
//     arguments, the stricter limits for unauthenticated clients).
//   - Writer: the reply encoder, degrading RESP3 types to RESP2 as Redis does.
//   - Client: per-connection state; the fields marked handler-owned belong to
//     the Handler.
//
// The path of a connection: the server reads whatever is available (at least
// 16 KiB of room per read), then for every complete request in the buffer,
// in order: sets the Writer's protocol from Client.Proto, calls
// Handler.ServeRESP, appends the Writer's bytes to the connection's output
// and resets the Writer. Output is written once after the batch (and early
// only when it passes 64 KiB), so a pipeline of N commands costs one write,
// not N.
//
// Invariants:
//   - Handler.ServeRESP is called for one client from one goroutine at a
//     time, in arrival order; handlers of different clients run concurrently.
//     Arguments passed to it are never reused by the server: a handler may
//     keep them (MULTI queues do).
//   - A protocol error is answered with its error reply, after the replies of
//     the requests before it, and the connection is then closed; nothing
//     after the malformed bytes is run.
//   - After Client.CloseAfterReply the pending replies are written, later
//     pipelined requests are dropped and the connection is closed. Client.Kill
//     closes the connection from any goroutine.
//   - A client whose unprocessed input passes QueryBufferLimit is closed
//     without a reply, as Redis does.
//   - Handler.Closed is called exactly once per accepted connection, after it
//     left Clients(). Server.Close returns only when every connection
//     goroutine has returned.
//
// The request parser is this package's own rather than redcon's: redcon's
// reader rejects "*0", requires CRLF after payloads, parses inline quotes
// differently and enforces none of the limits, so it cannot give Redis's
// replies. redcon serves the tests as an independent RESP encoder and reply
// reader.
//
// Differences from Redis: whether a terminated line longer than 64 KiB is
// accepted depends, in Redis as here, on how the bytes were split into reads;
// the query buffer limit counts the unparsed bytes plus the arguments of the
// request being parsed.
package resp
