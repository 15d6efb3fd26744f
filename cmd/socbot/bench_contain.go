package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/socbot/socbot/containment/containbench"
)

type benchContainCmd struct {
	JSON       bool   `help:"Print the result as JSON (fields mttc_p50_ms, mttc_p99_ms, actions, double_applied, lost, ...)."`
	Faults     bool   `help:"Fault mode: 30% of vendor calls answer 429, 5xx or hang past the timeout, across every fake connector (and a real nftables set)."`
	Actions    int    `help:"Actions to request (default 200, or 1000 in fault mode)."`
	NetNS      string `name:"netns" help:"Use this existing network namespace for the nftables target instead of a throw-away one." placeholder:"NAME"`
	NoNftables bool   `name:"no-nftables" help:"Leave out the nftables target (when not root); only the in-memory fakes are driven."`
}

func (c *benchContainCmd) Run(g *Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := containbench.Config{Actions: c.Actions, Faults: c.Faults, NetNS: c.NetNS, NoNftables: c.NoNftables, Log: g.Logger()}
	if isatty.IsTerminal(os.Stderr.Fd()) {
		var bar *progressbar.ProgressBar
		cfg.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("containment actions"))
			}
			_ = bar.Set(done)
		}
	}
	res, err := containbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("mode %s: %d requests, %d actions on %v\n", res.Mode, res.Requests, res.Actions, res.Connectors)
	fmt.Printf("  mean time to contain: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.MTTCP50ms, res.MTTCP99ms, res.MTTCMaxms)
	fmt.Printf("  applied %d, failed %d, double_applied %d, lost %d in %.1fs\n", res.Applied, res.Failed, res.DoubleApplied, res.Lost, res.Seconds)
	if len(res.FaultsInjected) > 0 {
		fmt.Printf("  faults injected: %v\n", res.FaultsInjected)
	}
	if len(res.FailReasons) > 0 {
		fmt.Printf("  failure reasons: %v\n", res.FailReasons)
	}
	return nil
}
