package pd

import (
	"errors"
	"fmt"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// Errors returned by pd. Errors that callers of a pdclient.Backend must
// recognise whatever the transport are pdclient's sentinels, returned
// (wrapped) as they are: pdclient.ErrInvalidCount, pdclient.ErrStoreNotFound,
// pdclient.ErrInvalidArgument, pdclient.ErrNotLeader, pdclient.ErrClosed.
var (
	// ErrInvalidConfig is wrapped by Config.Validate's errors.
	ErrInvalidConfig = errors.New("pd: invalid config")
	// ErrCorrupt reports a stored value PD cannot decode.
	ErrCorrupt = errors.New("pd: corrupt metadata")
	// ErrStartTimeout is returned by Start when etcd is not ready, or this
	// member not leader, before ctx ends.
	ErrStartTimeout = errors.New("pd: etcd not ready")
	// ErrWindowConflict reports that the persisted TSO window or ID block
	// changed under this leader: another member extended it. It wraps
	// pdclient.ErrNotLeader.
	ErrWindowConflict = fmt.Errorf("pd: persisted window changed by another leader: %w", pdclient.ErrNotLeader)
)
