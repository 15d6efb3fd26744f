package main

import (
	"context"
	"os/signal"
	"strings"
	"syscall"

	"github.com/knadh/koanf/v2"
)

func init() {
	register("serve", "Run the socbot server: the REST API and the bots, on embedded SQLite and JetStream by default.", &serveCmd{})
}

type serveCmd struct {
	storeFlags
	Listen string `help:"Address to listen on (default 127.0.0.1:8080; env SOCBOT_LISTEN)." placeholder:"ADDR"`
	NATS   string `help:"NATS servers, comma-separated (nats://a:4222,nats://b:4222); empty runs JetStream in-process under the data directory (env SOCBOT_NATS)." placeholder:"URL"`
	Bots   string `help:"Bots this node runs, comma-separated (default all: see 'socbot version --bots'; env SOCBOT_BOTS)." placeholder:"LIST"`
}

func (c *serveCmd) Run(g *Globals) error {
	cfg, err := loadConfig(g, c.storeFlags, c.apply)
	if err != nil {
		return err
	}
	log := g.Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := startNode(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	err = n.Wait(ctx)
	log.Info("shutting down")
	n.Stop()
	return err
}

func (c *serveCmd) apply(k *koanf.Koanf) {
	if c.Listen != "" {
		_ = k.Set("listen", c.Listen)
	}
	if c.NATS != "" {
		_ = k.Set("nats", c.NATS)
	}
	if c.Bots != "" {
		_ = k.Set("bots", strings.Split(c.Bots, ","))
	}
}
