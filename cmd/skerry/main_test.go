package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/skerrydb/skerry/cluster"
)

// parse runs the server command's flag handling on args and returns the
// configuration it would start a node with.
func parse(t *testing.T, args ...string) cluster.Config {
	t.Helper()
	cmd := serverCommand()
	var cfg cluster.Config
	cmd.Action = func(c *cli.Context) error {
		var err error
		cfg, _, err = configFromCLI(c)
		return err
	}
	app := &cli.App{Name: "skerry", Commands: []*cli.Command{cmd}}
	if err := app.Run(append([]string{"skerry", "server"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestServerDefaults(t *testing.T) {
	cfg := parse(t)
	if cfg.Addr != "127.0.0.1:6379" || cfg.DataDir != "./data" || cfg.StatusAddr != "127.0.0.1:20180" || cfg.PeerAddr != "127.0.0.1:20160" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestServerConfigFileEnvAndFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skerry.toml")
	toml := "addr = \"127.0.0.1:7000\"\ndata-dir = \"/var/lib/skerry\"\nmaxclients = 77\n"
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SKERRY_REQUIREPASS", "from-env")
	cfg := parse(t, "--config", file, "--addr", "127.0.0.1:7001")
	if cfg.Addr != "127.0.0.1:7001" {
		t.Errorf("a flag must win over the file: addr %q", cfg.Addr)
	}
	if cfg.DataDir != "/var/lib/skerry" || cfg.MaxClients != 77 {
		t.Errorf("file values not applied: %+v", cfg)
	}
	if cfg.RequirePass != "from-env" {
		t.Errorf("SKERRY_REQUIREPASS not applied")
	}
}
