// Command skerry is the Skerry server and its tools. Flags are parsed into
// a cluster.Config and handed over; there is no logic here.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"

	"github.com/skerrydb/skerry/cluster"
	"github.com/skerrydb/skerry/cluster/playground"
)

func main() {
	// A database node trades memory for CPU: the default GOGC=100 spends
	// ~5-8% of a core on garbage collection under write load here
	// (docs/performance.md). An explicit GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "skerry:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "skerry",
		Usage: "a distributed, strongly consistent, transactional key-value database that speaks the Redis protocol",
		Commands: []*cli.Command{
			serverCommand(),
			playgroundCommand(),
			ctlCommand(),
		},
	}
}

func serverFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "TOML config file whose keys are these flag names", EnvVars: []string{"SKERRY_CONFIG"}},
		altsrc.NewStringFlag(&cli.StringFlag{Name: "addr", Value: "127.0.0.1:6379", Usage: "RESP listen address (host:port)", EnvVars: []string{"SKERRY_ADDR"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "data-dir", Value: "./data", Usage: "directory for the node's data (Pebble store in db/, embedded PD in pd/)", EnvVars: []string{"SKERRY_DATA_DIR"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "status-addr", Value: "127.0.0.1:20180", Usage: "HTTP address of /metrics, /health and /debug/pprof (\"off\" to disable)", EnvVars: []string{"SKERRY_STATUS_ADDR"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "peer-addr", Value: "127.0.0.1:20160", Usage: "internal node-to-node RPC address (raft messages, snapshots, forwarded commands)", EnvVars: []string{"SKERRY_PEER_ADDR"}}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "pd", Value: true, Usage: "run a placement driver member (embedded etcd) on this node; --pd=false needs --join", EnvVars: []string{"SKERRY_PD"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "pd-name", Value: "pd", Usage: "this node's PD member name in --initial-cluster", EnvVars: []string{"SKERRY_PD_NAME"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "join", Usage: "PD client endpoints (http://host:port,...) of an existing cluster to join", EnvVars: []string{"SKERRY_JOIN"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "pd-client-addr", Value: "127.0.0.1:2379", Usage: "embedded PD client address (host:port)", EnvVars: []string{"SKERRY_PD_CLIENT_ADDR"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "pd-peer-addr", Value: "127.0.0.1:2380", Usage: "embedded PD peer address (host:port)", EnvVars: []string{"SKERRY_PD_PEER_ADDR"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "initial-cluster", Usage: "embedded PD members, name=http://host:port,... (default: this node alone)", EnvVars: []string{"SKERRY_INITIAL_CLUSTER"}}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "max-store-down-time", Value: 30 * time.Minute, Usage: "PD rebuilds elsewhere the replicas of a store silent this long (PD members only)", EnvVars: []string{"SKERRY_MAX_STORE_DOWN_TIME"}}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "gc-life-time", Value: 10 * time.Minute, Usage: "how long overwritten and deleted versions stay on disk before they are garbage-collected (running transactions hold collection back longer; PD members only)", EnvVars: []string{"SKERRY_GC_LIFE_TIME"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "requirepass", Usage: "password of the default user; clients must AUTH before any other command", EnvVars: []string{"SKERRY_REQUIREPASS"}}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "maxclients", Value: 10000, Usage: "maximum number of connected clients (Redis maxclients)", EnvVars: []string{"SKERRY_MAXCLIENTS"}}),
		altsrc.NewInt64Flag(&cli.Int64Flag{Name: "proto-max-bulk-len", Value: 512 << 20, Usage: "largest bulk string accepted, in bytes (Redis proto-max-bulk-len)", EnvVars: []string{"SKERRY_PROTO_MAX_BULK_LEN"}}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "cluster-redirect", Usage: "act as a Redis Cluster node: answer -MOVED for keys led by another node instead of forwarding them (smart cluster clients)", EnvVars: []string{"SKERRY_CLUSTER_REDIRECT"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error", EnvVars: []string{"SKERRY_LOG_LEVEL"}}),
	}
}

func serverCommand() *cli.Command {
	flags := serverFlags()
	return &cli.Command{
		Name:  "server",
		Usage: "run a Skerry node (with no flags: a complete single-node database on 127.0.0.1:6379, data in ./data)",
		Flags: flags,
		Before: func(c *cli.Context) error {
			if c.String("config") == "" {
				return nil
			}
			return altsrc.InitInputSourceWithContext(flags, altsrc.NewTomlSourceFromFlagFunc("config"))(c)
		},
		Action: runServer,
	}
}

// configFromCLI maps the server flags (command line, SKERRY_* variables or
// the TOML file, in that order of precedence) to a node configuration.
func configFromCLI(c *cli.Context) (cluster.Config, slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return cluster.Config{}, level, fmt.Errorf("--log-level: %w", err)
	}
	if !c.Bool("pd") && c.String("join") == "" {
		return cluster.Config{}, level, fmt.Errorf("--pd=false needs --join: a node without a PD member must know the cluster's PD")
	}
	cfg := cluster.Config{
		Addr:             c.String("addr"),
		DataDir:          c.String("data-dir"),
		StatusAddr:       c.String("status-addr"),
		PeerAddr:         c.String("peer-addr"),
		PDClientAddr:     c.String("pd-client-addr"),
		PDPeerAddr:       c.String("pd-peer-addr"),
		InitialCluster:   c.String("initial-cluster"),
		PD:               c.Bool("pd"),
		PDName:           c.String("pd-name"),
		Join:             splitList(c.String("join")),
		MaxStoreDownTime: c.Duration("max-store-down-time"),
		GCLifeTime:       c.Duration("gc-life-time"),
		RequirePass:      c.String("requirepass"),
		MaxClients:       c.Int("maxclients"),
		ProtoMaxBulkLen:  c.Int64("proto-max-bulk-len"),
		ClusterRedirect:  c.Bool("cluster-redirect"),
	}
	return cfg, level, cfg.Validate()
}

func runServer(c *cli.Context) error {
	cfg, level, err := configFromCLI(c)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	node, err := cluster.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("signal received, shutting down")
	case <-node.ShutdownRequested():
		log.Info("SHUTDOWN received, shutting down")
	}
	if err := node.Close(); err != nil {
		return err
	}
	log.Info("bye")
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func playgroundCommand() *cli.Command {
	return &cli.Command{
		Name:      "playground",
		Usage:     "start a local N-node cluster on 127.0.0.1, each node a child `skerry server` process",
		ArgsUsage: "[-- server flags passed on to every node]",
		Description: "Node i serves RESP on --port+i-1, internal RPC on +1000, PD client on +2000, PD peer on +3000 and\n" +
			"HTTP status on +4000. Every node runs a PD member. Ctrl-C stops them all; kill one to watch the cluster heal.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "nodes", Value: 3, Usage: "number of nodes (1..9)"},
			&cli.IntFlag{Name: "port", Value: 7001, Usage: "RESP port of node 1"},
			&cli.StringFlag{Name: "data-dir", Value: "./playground", Usage: "directory holding node-<i>/ (data and skerry.log) of each node"},
			&cli.BoolFlag{Name: "cluster-redirect", Usage: "pass --cluster-redirect to every node: Redis Cluster clients get -MOVED to the leader instead of being forwarded"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			args := c.Args().Slice()
			if c.Bool("cluster-redirect") {
				args = append([]string{"--cluster-redirect"}, args...)
			}
			return playground.Run(ctx, playground.Config{Nodes: c.Int("nodes"), Port: c.Int("port"),
				DataDir: c.String("data-dir"), ServerArgs: args}, os.Stdout)
		},
	}
}
