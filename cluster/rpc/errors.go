package rpc

import (
	"errors"
	"fmt"
)

var (
	// ErrUnreachable is wrapped by every error that means the target store
	// could not be reached: its address did not resolve, the connection
	// failed or broke, or a test Filter dropped the call. The request may
	// or may not have been executed when the connection broke mid-call.
	ErrUnreachable = errors.New("rpc: store unreachable")
	// ErrNotSent is wrapped, besides ErrUnreachable, by a Forward error
	// when the request certainly never left this node: the store did not
	// resolve, a Filter dropped it, or no connection ever carried it (the
	// call failed before gRPC gave it a stream). Only then may a
	// non-idempotent command be tried elsewhere.
	ErrNotSent = errors.New("rpc: request not sent")
	// ErrClosed is returned by calls on a closed Client.
	ErrClosed = errors.New("rpc: client closed")
	// ErrMalformed is wrapped by decode errors of the wire format.
	ErrMalformed = errors.New("rpc: malformed message")
	// ErrUnsupportedVersion is wrapped when a message carries a wire format
	// version this node does not know.
	ErrUnsupportedVersion = errors.New("rpc: unsupported wire format version")
	// ErrSnapshotTruncated is what Handler.ReceiveSnapshot reads (instead of
	// io.EOF) when the sender's stream ended before its trailer.
	ErrSnapshotTruncated = errors.New("rpc: snapshot stream truncated")
	// ErrSnapshotChecksum is what Handler.ReceiveSnapshot reads (instead of
	// io.EOF) when the received bytes do not match the sender's size and
	// CRC-32C.
	ErrSnapshotChecksum = errors.New("rpc: snapshot checksum mismatch")
	// ErrInvalidOptions is wrapped by ClientOptions and ServerOptions
	// Validate errors.
	ErrInvalidOptions = errors.New("rpc: invalid options")
)

// Coder is implemented by Handler errors that want a code to reach the
// caller: the code and the error's text are reproduced on the other side as
// a *RemoteError. Codes are the Handler implementation's to define; 0 means
// "unclassified". errors.As finds a Coder anywhere in a wrapped chain.
type Coder interface {
	RPCCode() uint32
}

// RemoteError is returned by Client calls when the Handler on the other
// side returned an error. Code is the error's RPCCode (0 when it had none)
// and Msg its Error() text. Sentinel identity does not cross the wire:
// compare Code, never Msg.
type RemoteError struct {
	Code uint32
	Msg  string
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("rpc: remote error (code %d): %s", e.Code, e.Msg)
}

// RPCCode implements Coder, so a RemoteError relayed by another Handler
// keeps its code.
func (e *RemoteError) RPCCode() uint32 { return e.Code }

// statusOf converts a Handler error for the wire; nil for nil.
func statusOf(err error) *rpcStatus {
	if err == nil {
		return nil
	}
	s := &rpcStatus{msg: err.Error()}
	var c Coder
	if errors.As(err, &c) {
		s.code = c.RPCCode()
	}
	return s
}
