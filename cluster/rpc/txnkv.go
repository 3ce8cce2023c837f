package rpc

import (
	"context"
	"fmt"
)

// TxnKVHandler is implemented by a Handler that also serves the
// transactional key-value actions of distributed transactions (TxnKV). A
// Handler without it answers TxnKV with a *RemoteError.
type TxnKVHandler interface {
	// TxnKV runs one transactional action on the region that holds
	// req's keys, which this node must lead. The request aliases a
	// buffer owned by this call: copy what must outlive it. Outcomes of
	// the action (a lock met, a conflict, not the leader) are reported in
	// the response's Err fields; a returned error reaches the caller as a
	// *RemoteError.
	TxnKV(ctx context.Context, req *TxnKVRequest) (*TxnKVResponse, error)
}

// TxnKVRequest is one transactional action (Percolator prewrite, commit,
// ...) sent to the leader of the region holding its keys. The meaning of
// Op and of the fields for each op is the node's (cluster/txnkv.go); this
// package only carries them.
//
// Tags (FROZEN, never renumber):
//
//	1 varint Op
//	2 bytes  one key, repeated in order
//	3 bytes  TxnMutation (nested), repeated in order
//	4 bytes  Primary
//	5 varint StartTS     6 varint CommitTS
//	7 varint TTLMs       8 varint CurrentTS
//	9 varint Flags
//	10 bytes Lower       11 bytes Upper (absent: unbounded)
//	12 varint Limit
type TxnKVRequest struct {
	Op        uint32
	Keys      [][]byte
	Mutations []TxnMutation
	Primary   []byte
	StartTS   uint64
	CommitTS  uint64
	TTLMs     uint64
	CurrentTS uint64
	Flags     uint64
	Lower     []byte
	Upper     []byte // nil: unbounded
	Limit     uint64
}

// TxnMutation is one buffered write of a transaction.
//
// Tags (FROZEN): 1 bytes Key, 2 varint Kind, 3 bytes Value.
type TxnMutation struct {
	Key   []byte
	Kind  uint32 // 0 put, 1 delete, 2 lock-only (the node's meaning)
	Value []byte
}

// TxnKVPair is one key read by a TxnKV action.
//
// Tags (FROZEN): 1 bytes Key, 2 bytes Value, 3 varint Found (0/1).
type TxnKVPair struct {
	Key   []byte
	Value []byte
	Found bool
}

// TxnKVResponse is the outcome of a TxnKVRequest.
//
// Tags (FROZEN, never renumber):
//
//	1 bytes  TxnKVPair (nested), repeated in order
//	2 varint State       3 varint Action     4 varint CommitTS
//	5 bytes  Lock (an encoded lock record, opaque here)
//	6 varint ErrCode     7 bytes ErrKey      8 varint ErrTS
//	9 varint Leader (store id)               10 bytes ErrMsg
//	11 bytes ResumeKey (absent: nothing more to scan)
type TxnKVResponse struct {
	Pairs     []TxnKVPair
	State     uint64
	Action    uint64
	CommitTS  uint64
	Lock      []byte
	ErrCode   uint32
	ErrKey    []byte
	ErrTS     uint64
	Leader    uint64
	ErrMsg    string
	ResumeKey []byte
}

func (r *TxnKVRequest) appendFields(b []byte) ([]byte, error) {
	b = appendVarintField(b, 1, uint64(r.Op))
	for _, k := range r.Keys {
		b = appendBytesField(b, 2, k)
	}
	for i := range r.Mutations {
		m := &r.Mutations[i]
		var mb []byte
		mb = appendBytesField(mb, 1, m.Key)
		mb = appendVarintField(mb, 2, uint64(m.Kind))
		if len(m.Value) > 0 {
			mb = appendBytesField(mb, 3, m.Value)
		}
		b = appendBytesField(b, 3, mb)
	}
	if len(r.Primary) > 0 {
		b = appendBytesField(b, 4, r.Primary)
	}
	b = appendVarintField(b, 5, r.StartTS)
	b = appendVarintField(b, 6, r.CommitTS)
	b = appendVarintField(b, 7, r.TTLMs)
	b = appendVarintField(b, 8, r.CurrentTS)
	b = appendVarintField(b, 9, r.Flags)
	if len(r.Lower) > 0 {
		b = appendBytesField(b, 10, r.Lower)
	}
	if r.Upper != nil {
		b = appendBytesField(b, 11, r.Upper)
	}
	b = appendVarintField(b, 12, r.Limit)
	return b, nil
}

func (r *TxnKVRequest) decodeFields(b []byte) error {
	return eachField(b, func(fl field) error {
		var err error
		switch fl.tag {
		case 1:
			r.Op, err = fl.uint32()
		case 2:
			if err = fl.want(kindBytes); err == nil {
				r.Keys = append(r.Keys, fl.data)
			}
		case 3:
			if err = fl.want(kindBytes); err != nil {
				return err
			}
			var m TxnMutation
			if err = eachField(fl.data, func(mf field) error {
				var err error
				switch mf.tag {
				case 1:
					if err = mf.want(kindBytes); err == nil {
						m.Key = mf.data
					}
				case 2:
					m.Kind, err = mf.uint32()
				case 3:
					if err = mf.want(kindBytes); err == nil {
						m.Value = mf.data
					}
				}
				return err
			}); err == nil {
				r.Mutations = append(r.Mutations, m)
			}
		case 4:
			if err = fl.want(kindBytes); err == nil {
				r.Primary = fl.data
			}
		case 5, 6, 7, 8, 9, 12:
			if err = fl.want(kindVarint); err != nil {
				return err
			}
			switch fl.tag {
			case 5:
				r.StartTS = fl.v
			case 6:
				r.CommitTS = fl.v
			case 7:
				r.TTLMs = fl.v
			case 8:
				r.CurrentTS = fl.v
			case 9:
				r.Flags = fl.v
			case 12:
				r.Limit = fl.v
			}
		case 10:
			if err = fl.want(kindBytes); err == nil {
				r.Lower = fl.data
			}
		case 11:
			if err = fl.want(kindBytes); err == nil {
				r.Upper = fl.data
			}
		}
		return err
	})
}

func (r *TxnKVResponse) append(b []byte) ([]byte, error) {
	for i := range r.Pairs {
		p := &r.Pairs[i]
		var pb []byte
		pb = appendBytesField(pb, 1, p.Key)
		if len(p.Value) > 0 {
			pb = appendBytesField(pb, 2, p.Value)
		}
		if p.Found {
			pb = appendVarintField(pb, 3, 1)
		}
		b = appendBytesField(b, 1, pb)
	}
	b = appendVarintField(b, 2, r.State)
	b = appendVarintField(b, 3, r.Action)
	b = appendVarintField(b, 4, r.CommitTS)
	if len(r.Lock) > 0 {
		b = appendBytesField(b, 5, r.Lock)
	}
	b = appendVarintField(b, 6, uint64(r.ErrCode))
	if len(r.ErrKey) > 0 {
		b = appendBytesField(b, 7, r.ErrKey)
	}
	b = appendVarintField(b, 8, r.ErrTS)
	b = appendVarintField(b, 9, r.Leader)
	if r.ErrMsg != "" {
		b = appendBytesField(b, 10, []byte(r.ErrMsg))
	}
	if r.ResumeKey != nil {
		b = appendBytesField(b, 11, r.ResumeKey)
	}
	return b, nil
}

func (r *TxnKVResponse) decode(b []byte) error {
	return eachField(b, func(fl field) error {
		var err error
		switch fl.tag {
		case 1:
			if err = fl.want(kindBytes); err != nil {
				return err
			}
			var p TxnKVPair
			if err = eachField(fl.data, func(pf field) error {
				var err error
				switch pf.tag {
				case 1:
					if err = pf.want(kindBytes); err == nil {
						p.Key = pf.data
					}
				case 2:
					if err = pf.want(kindBytes); err == nil {
						p.Value = pf.data
					}
				case 3:
					if err = pf.want(kindVarint); err == nil {
						p.Found = pf.v != 0
					}
				}
				return err
			}); err == nil {
				r.Pairs = append(r.Pairs, p)
			}
		case 2, 3, 4, 8, 9:
			if err = fl.want(kindVarint); err != nil {
				return err
			}
			switch fl.tag {
			case 2:
				r.State = fl.v
			case 3:
				r.Action = fl.v
			case 4:
				r.CommitTS = fl.v
			case 8:
				r.ErrTS = fl.v
			case 9:
				r.Leader = fl.v
			}
		case 5:
			if err = fl.want(kindBytes); err == nil {
				r.Lock = fl.data
			}
		case 6:
			r.ErrCode, err = fl.uint32()
		case 7:
			if err = fl.want(kindBytes); err == nil {
				r.ErrKey = fl.data
			}
		case 10:
			if err = fl.want(kindBytes); err == nil {
				r.ErrMsg = string(fl.data)
			}
		case 11:
			if err = fl.want(kindBytes); err == nil {
				r.ResumeKey = fl.data
			}
		}
		return err
	})
}

// --- txnKVReply: the TxnKV reply ---
//
// Tags (FROZEN):
//
//	1 bytes TxnKVResponse (nested)
//	2 bytes rpcStatus: present iff the handler failed (then 1 is absent)
type txnKVReply struct {
	resp TxnKVResponse
	err  *rpcStatus
}

func (f *txnKVReply) appendFields(b []byte) ([]byte, error) {
	if f.err != nil {
		return appendNested(b, 2, f.err.append)
	}
	return appendNested(b, 1, f.resp.append)
}

func (f *txnKVReply) decodeFields(b []byte) error {
	err := eachField(b, func(fl field) error {
		switch fl.tag {
		case 1:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			return f.resp.decode(fl.data)
		case 2:
			if err := fl.want(kindBytes); err != nil {
				return err
			}
			s, err := decodeStatus(fl.data)
			f.err = s
			return err
		}
		return nil
	})
	if f.err != nil {
		f.resp = TxnKVResponse{}
	}
	return err
}

// errNoTxnKV answers TxnKV on a node whose Handler does not serve it.
var errNoTxnKV = fmt.Errorf("rpc: this node does not serve TxnKV")

// serveTxnKV runs one transactional action.
func (s *Server) serveTxnKV(ctx context.Context, req *TxnKVRequest) (*txnKVReply, error) {
	h, ok := s.h.(TxnKVHandler)
	if !ok {
		return &txnKVReply{err: statusOf(errNoTxnKV)}, nil
	}
	resp, err := h.TxnKV(ctx, req)
	if err != nil {
		return &txnKVReply{err: statusOf(err)}, nil
	}
	if resp == nil {
		resp = &TxnKVResponse{}
	}
	return &txnKVReply{resp: *resp}, nil
}

// TxnKV sends one transactional action to store. Errors: as Forward
// (ErrUnreachable wrapped, *RemoteError, ctx's error, ErrClosed). The
// response aliases the reply's buffer, which is the caller's.
func (c *Client) TxnKV(ctx context.Context, store uint64, req *TxnKVRequest) (*TxnKVResponse, error) {
	if err := c.filter(ctx, store, KindForward); err != nil {
		return nil, err
	}
	cc, err := c.conn(ctx, store)
	if err != nil {
		return nil, err
	}
	var reply txnKVReply
	if err := cc.Invoke(ctx, methodTxnKV, req, &reply); err != nil {
		return nil, c.callError(ctx, store, cc, err)
	}
	if reply.err != nil {
		return nil, reply.err.remoteError()
	}
	return &reply.resp, nil
}
