package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/skerrydb/skerry/cluster/ctl"
)

// ctlConfig maps the ctl command's flags to a ctl.Config.
// --wait 0 means "do not wait", which ctl.Config spells negative.
func ctlConfig(c *cli.Context) ctl.Config {
	wait := c.Duration("wait")
	if wait <= 0 {
		wait = -1
	}
	return ctl.Config{
		Endpoints: splitList(c.String("pd")),
		Format:    ctl.Format(c.String("format")),
		Wait:      wait,
		Out:       c.App.Writer,
		Log:       c.App.ErrWriter,
	}
}

// withCtl dials PD and runs fn with a Ctl, stopping on SIGINT/SIGTERM.
func withCtl(c *cli.Context, fn func(context.Context, *ctl.Ctl) error) error {
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	x, err := ctl.Dial(ctx, ctlConfig(c))
	if err != nil {
		return err
	}
	defer x.Close()
	return fn(ctx, x)
}

// idArg parses positional argument i as an ID (a positive integer).
func idArg(c *cli.Context, i int, name string) (uint64, error) {
	if c.NArg() <= i {
		return 0, fmt.Errorf("missing <%s> (see skerry ctl %s --help)", name, c.Command.Name)
	}
	id, err := strconv.ParseUint(c.Args().Get(i), 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("<%s> must be a positive integer, got %q", name, c.Args().Get(i))
	}
	return id, nil
}

// flagsAfterArgs lets a verb's flags follow its npos positional arguments
// (`split 5 --slot 100`): urfave/cli v2 stops parsing flags at the first
// argument, so the rest is parsed here, on top of the flags given before.
// It returns the context to read flags from.
func flagsAfterArgs(c *cli.Context, npos int) (*cli.Context, error) {
	args := c.Args().Slice()
	if len(args) <= npos {
		return c, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
	}
	for _, name := range c.FlagNames() {
		if c.IsSet(name) && set.Lookup(name) != nil {
			if err := set.Set(name, fmt.Sprint(c.Value(name))); err != nil {
				return nil, err
			}
		}
	}
	if err := set.Parse(args[npos:]); err != nil {
		return nil, fmt.Errorf("skerry ctl %s: %w (flags of ctl itself go before the verb: skerry ctl --pd ... --format ... --wait ... %s)",
			c.Command.Name, err, c.Command.Name)
	}
	if set.NArg() > 0 {
		return nil, fmt.Errorf("skerry ctl %s: unexpected arguments %q", c.Command.Name, set.Args())
	}
	return cli.NewContext(c.App, set, c), nil
}

func ctlCommand() *cli.Command {
	return &cli.Command{
		Name:  "ctl",
		Usage: "inspect and operate a cluster through its placement driver: stores, regions, split, transfer-leader, remove-store",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pd", Value: ctl.DefaultEndpoint, Usage: "PD client endpoints (http://host:port,...); any member will do", EnvVars: []string{"SKERRY_CTL_PD"}},
			&cli.StringFlag{Name: "format", Value: string(ctl.FormatTable), Usage: "output format: table or json"},
			&cli.DurationFlag{Name: "wait", Value: ctl.DefaultWait, Usage: "how long split and transfer-leader wait for PD to show the result (0: return once the operator is queued)"},
		},
		Before: func(c *cli.Context) error {
			cfg := ctlConfig(c)
			return cfg.Validate()
		},
		Subcommands: []*cli.Command{
			{
				Name:  "stores",
				Usage: "list the stores: addresses, state, last heartbeat, replica and leader counts",
				Action: func(c *cli.Context) error {
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.Stores(ctx) })
				},
			},
			{
				Name:        "regions",
				Usage:       "list the regions: slot range, key range, epoch, leader and peers",
				Description: "SLOTS marks with * a slot shared with a neighbouring region (split inside the slot).",
				Action: func(c *cli.Context) error {
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.Regions(ctx) })
				},
			},
			{
				Name:      "region",
				Usage:     "show one region, by ID or by the Redis key it holds",
				ArgsUsage: "<region-id> | --key KEY [--db N]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "key", Usage: "show the region holding this Redis key"},
					&cli.IntFlag{Name: "db", Usage: "database of --key (SELECT number)"},
				},
				Action: func(c *cli.Context) error {
					fc, err := flagsAfterArgs(c, 1)
					if err != nil {
						return err
					}
					if fc.IsSet("key") {
						if c.NArg() > 0 {
							return fmt.Errorf("give a <region-id> or --key, not both")
						}
						return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error {
							return x.RegionByKey(ctx, fc.Int("db"), fc.String("key"))
						})
					}
					id, err := idArg(c, 0, "region-id")
					if err != nil {
						return err
					}
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.Region(ctx, id) })
				},
			},
			{
				Name:      "split",
				Usage:     "split a region at a Redis key, at a slot boundary, or (neither) where its leader picks",
				ArgsUsage: "<region-id> [--slot N | --key KEY [--db N]]",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "slot", Usage: "split at the start of this slot (1..16383); preferred: keeps each slot's expiry index whole"},
					&cli.StringFlag{Name: "key", Usage: "split just before this Redis key's records"},
					&cli.IntFlag{Name: "db", Usage: "database of --key (SELECT number)"},
				},
				Action: func(c *cli.Context) error {
					id, err := idArg(c, 0, "region-id")
					if err != nil {
						return err
					}
					fc, err := flagsAfterArgs(c, 1)
					if err != nil {
						return err
					}
					var at []byte
					switch {
					case fc.IsSet("slot") && fc.IsSet("key"):
						return fmt.Errorf("give --slot or --key, not both")
					case fc.IsSet("slot"):
						at, err = ctl.SlotSplitKey(fc.Int("slot"))
					case fc.IsSet("key"):
						at, err = ctl.KeySplitKey(fc.Int("db"), fc.String("key"))
					}
					if err != nil {
						return err
					}
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.Split(ctx, id, at) })
				},
			},
			{
				Name:      "transfer-leader",
				Usage:     "move a region's leadership to its replica on a store",
				ArgsUsage: "<region-id> <store-id>",
				Action: func(c *cli.Context) error {
					id, err := idArg(c, 0, "region-id")
					if err != nil {
						return err
					}
					store, err := idArg(c, 1, "store-id")
					if err != nil {
						return err
					}
					if _, err := flagsAfterArgs(c, 2); err != nil {
						return err
					}
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.TransferLeader(ctx, id, store) })
				},
			},
			{
				Name:      "remove-store",
				Usage:     "mark a store Offline: PD moves its replicas away, then marks it Tombstone",
				ArgsUsage: "<store-id>",
				Action: func(c *cli.Context) error {
					id, err := idArg(c, 0, "store-id")
					if err != nil {
						return err
					}
					if _, err := flagsAfterArgs(c, 1); err != nil {
						return err
					}
					return withCtl(c, func(ctx context.Context, x *ctl.Ctl) error { return x.RemoveStore(ctx, id) })
				},
			},
			{
				Name:        "add-store",
				Usage:       "print how to add a store (a store is a node started with --join)",
				Description: "Adding a store is starting a node with `skerry server --join <PD endpoints>`; ctl cannot start a\nprocess on another machine, so this prints the command to run there.",
				Action:      func(c *cli.Context) error { return ctl.AddStore(ctlConfig(c)) },
			},
		},
	}
}
