package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/skerrydb/skerry/pd/pdclient"
)

// Errors of this package; PD's own errors (pdclient.ErrRegionNotFound,
// pdclient.ErrStoreNotFound, ...) are returned wrapped, so errors.Is works
// with both.
var (
	// ErrInvalidArgument is returned for a request that cannot be right
	// whatever the cluster holds (a bad slot, db or format) or that does
	// not fit the region or store it names (a split key outside the
	// region, a transfer to a store without a voter of the region).
	ErrInvalidArgument = errors.New("ctl: invalid argument")
	// ErrTimeout is returned when PD did not show the result of an
	// operator before Config.Wait ran out. The operator stays queued in
	// PD until its own timeout; a region whose leader does not heartbeat
	// never takes it.
	ErrTimeout = errors.New("ctl: timed out waiting for PD to show the result")
)

// Format is how results are printed.
type Format string

// Formats.
const (
	// FormatTable is aligned columns for people.
	FormatTable Format = "table"
	// FormatJSON is indented JSON for scripts: an array for lists, an
	// object for one item.
	FormatJSON Format = "json"
)

// Defaults for Config fields left zero.
const (
	DefaultEndpoint = "http://127.0.0.1:2379"
	DefaultWait     = 10 * time.Second
	// pollInterval is how often a waiting command asks PD again.
	pollInterval = 50 * time.Millisecond
)

// Config configures a Ctl. Zero fields take the documented defaults.
type Config struct {
	// Endpoints are the PD members' client URLs (http://host:port); any
	// member will do, calls follow the PD leader. Default
	// [DefaultEndpoint].
	Endpoints []string
	// Format of the results written to Out. Default FormatTable.
	Format Format
	// Wait bounds how long split and transfer-leader wait for PD to show
	// the result of their operator. Default 10s; negative: do not wait,
	// return once the operator is queued.
	Wait time.Duration
	// Out receives the results (tables or JSON). Default io.Discard.
	Out io.Writer
	// Log receives progress and advice for people (what happens next);
	// never JSON, so Out stays parseable. Default io.Discard.
	Log io.Writer
	// Now is the clock heartbeat ages are measured against. Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if len(c.Endpoints) == 0 {
		c.Endpoints = []string{DefaultEndpoint}
	}
	if c.Format == "" {
		c.Format = FormatTable
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidArgument.
func (c *Config) Validate() error {
	switch c.Format {
	case "", FormatTable, FormatJSON:
	default:
		return fmt.Errorf("%w: format %q (want table or json)", ErrInvalidArgument, c.Format)
	}
	for _, e := range c.Endpoints {
		if e == "" {
			return fmt.Errorf("%w: empty PD endpoint", ErrInvalidArgument)
		}
	}
	return nil
}

// PD is the part of the placement driver a Ctl uses; *pdclient.Client
// implements it. Methods are safe for concurrent use and return
// pdclient's errors.
type PD interface {
	GetStores(ctx context.Context) ([]pdclient.Store, error)
	SetStoreState(ctx context.Context, id uint64, state pdclient.StoreState) error
	GetRegion(ctx context.Context, key []byte) (pdclient.Region, pdclient.Peer, error)
	GetRegionByID(ctx context.Context, id uint64) (pdclient.Region, pdclient.Peer, error)
	ScanRegions(ctx context.Context, start, end []byte, limit int) ([]pdclient.RegionInfo, error)
	AddOperator(ctx context.Context, regionID uint64, op pdclient.Operator) error
}

// Ctl runs administrative commands against PD and prints their results.
// Not safe for concurrent use (the commands share Out).
type Ctl struct {
	pd    PD
	cfg   Config
	close func()
}

// New returns a Ctl over pd. It validates cfg.
func New(pd PD, cfg Config) (*Ctl, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Ctl{pd: pd, cfg: cfg.withDefaults()}, nil
}

// Dial connects to the PD members of cfg.Endpoints and returns a Ctl over
// them; Close it.
func Dial(ctx context.Context, cfg Config) (*Ctl, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c, err := pdclient.Dial(ctx, cfg.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("ctl: connect to PD at %v: %w", cfg.Endpoints, err)
	}
	return &Ctl{pd: c, cfg: cfg, close: c.Close}, nil
}

// Close releases the PD connections of a Dial'ed Ctl.
func (c *Ctl) Close() {
	if c.close != nil {
		c.close()
	}
}

// logf writes a line for people to cfg.Log.
func (c *Ctl) logf(format string, args ...any) {
	fmt.Fprintf(c.cfg.Log, format+"\n", args...)
}
