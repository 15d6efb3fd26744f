package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	_ "github.com/socbot/socbot/connectors/nftables" // registers connector type "nftables"
	"github.com/socbot/socbot/containment"
	"gopkg.in/yaml.v3"
)

func init() {
	register("contain", "Apply one containment action directly on a connector (ops tool and test hook), or dry-run it.", &containCmd{})
}

type containCmd struct {
	Block   containBlockCmd   `cmd:"" help:"Block VALUE now (nftables: add it to the set, with --ttl as its timeout)."`
	Unblock containUnblockCmd `cmd:"" help:"Undo a block of VALUE now (nftables: delete it from the set). Absent counts as success."`
	Plan    containPlanCmd    `cmd:"" help:"Dry run: print exactly what each connector would change for VALUE, changing nothing."`

	// The ledger of a socbot server's containment bot (contain_ledger.go).
	Actions containActionsCmd `cmd:"" help:"List the containment ledger of a tenant (the server's database)."`
	Pending containPendingCmd `cmd:"" help:"List the containment actions waiting for approval."`
	Approve containDecideCmd  `cmd:"" help:"Approve a containment action waiting for approval (as cli:<your user>)."`
	Deny    containDenyCmd    `cmd:"" help:"Deny a containment action waiting for approval, with a comment."`
	Remove  containRemoveCmd  `cmd:"" help:"Undo an applied containment action (the server's executor does it)."`
}

// containTarget are the flags shared by the verbs.
type containTarget struct {
	Connector       string `help:"Connector type (default nftables), or the id of a connector in --connector-config. With a config file and no --connector, every configured connector that supports the action is used." placeholder:"TYPE|ID"`
	ConnectorConfig string `name:"connector-config" type:"existingfile" help:"YAML list of connector configurations (id, type, tenant_id, base_url, credentials, options, timeout)." placeholder:"FILE"`
	NetNS           string `name:"netns" help:"nftables: network namespace (a name under /var/run/netns, or a path)." placeholder:"NAME"`
	Table           string `help:"nftables: table name (default socbot)." placeholder:"T"`
	Set             string `help:"nftables: set name for VALUE's address family (defaults bl4 for IPv4, bl6 for IPv6)." placeholder:"S"`
	Kind            string `default:"ip" enum:"ip,domain,url,sender,message,user,host" help:"What VALUE is: ip (address or CIDR), domain, url, sender, message, user, host."`
	Reference       string `default:"soc:cli" help:"Ownership comment stored with the change."`
	Tenant          string `default:"cli" help:"Tenant whose never-block list applies (MSSP-wide lists always apply)."`
	Unsafe          bool   `help:"Skip the safety rails (never-block lists, private ranges, too-broad prefixes)."`
	AllowPrivate    bool   `name:"allow-private" help:"Allow private, CGNAT and link-local addresses (internal containment)."`
	Timeout         string `default:"30s" help:"Timeout of each connector call."`
	JSON            bool   `help:"Print results as JSON."`
	Value           string `arg:"" help:"The value to act on: an IP address or CIDR, a domain, a URL, a sender, a message id, a user or a host."`
}

type containBlockCmd struct {
	containTarget
	TTL string `help:"How long the block lasts (e.g. 30m, 24h, 7d); the connector expires it natively where it can. Default: until unblocked." placeholder:"D"`
}

type containUnblockCmd struct{ containTarget }

type containPlanCmd struct {
	containTarget
	TTL     string `help:"The TTL the block would have." placeholder:"D"`
	Unblock bool   `help:"Plan the unblock instead of the block."`
}

var forwardKinds = map[string]socbot.ActionKind{
	"ip": socbot.ActBlockIP, "domain": socbot.ActBlockDomain, "url": socbot.ActBlockURL, "sender": socbot.ActBlockSender,
	"message": socbot.ActPurgeMessage, "user": socbot.ActDisableUser, "host": socbot.ActIsolateHost,
}

func (c *containBlockCmd) Run(g *Globals) error {
	ttl, err := parseTTL(c.TTL)
	if err != nil {
		return err
	}
	return c.containTarget.run(forwardKinds[c.Kind], ttl, false)
}

func (c *containUnblockCmd) Run(g *Globals) error {
	return c.containTarget.run(forwardKinds[c.Kind].Inverse(), 0, false)
}

func (c *containPlanCmd) Run(g *Globals) error {
	ttl, err := parseTTL(c.TTL)
	if err != nil {
		return err
	}
	k := forwardKinds[c.Kind]
	if c.Unblock {
		k = k.Inverse()
	}
	return c.containTarget.run(k, ttl, true)
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := socbot.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, socbot.FieldError("contain", "ttl", "bad duration %q (use 30m, 24h, 7d)", s)
	}
	return d, nil
}

// loadConnectorConfigs reads a YAML list of connector configurations.
func loadConnectorConfigs(path string) ([]socbot.ConnectorConfig, error) {
	const op = "contain.connector-config"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, socbot.E(op, socbot.KindNotFound, err)
	}
	var cfgs []socbot.ConnectorConfig
	if err := yaml.Unmarshal(b, &cfgs); err != nil {
		return nil, socbot.E(op, socbot.KindInvalid, path+": "+err.Error())
	}
	for i, cfg := range cfgs {
		if cfg.ID == "" {
			return nil, socbot.FieldError(op, fmt.Sprintf("[%d].id", i), "required")
		}
		if cfg.Type == "" {
			return nil, socbot.FieldError(op, fmt.Sprintf("[%d].type", i), "required (one of %s)", strings.Join(socbot.ConnectorTypes(), ", "))
		}
	}
	return cfgs, nil
}

func (c *containTarget) configs(kind socbot.ActionKind) ([]socbot.ConnectorConfig, error) {
	timeout, err := socbot.ParseDuration(c.Timeout)
	if err != nil {
		return nil, socbot.FieldError("contain", "timeout", "%v", err)
	}
	nftOpts := func(cfg *socbot.ConnectorConfig) {
		if cfg.Type != "nftables" {
			return
		}
		if cfg.Options == nil {
			cfg.Options = map[string]string{}
		}
		if c.NetNS != "" {
			cfg.Options["netns"] = c.NetNS
		}
		if c.Table != "" {
			cfg.Options["table"] = c.Table
		}
		if c.Set != "" {
			setOpt := "set4"
			if p, err := containment.ParseIPValue(c.Value); err == nil && p.Addr().Is6() {
				setOpt = "set6"
			}
			cfg.Options[setOpt] = c.Set
		}
	}
	var cfgs []socbot.ConnectorConfig
	if c.ConnectorConfig == "" {
		typ := c.Connector
		if typ == "" {
			typ = "nftables"
		}
		cfgs = []socbot.ConnectorConfig{{ID: typ, Type: typ}}
	} else {
		all, err := loadConnectorConfigs(c.ConnectorConfig)
		if err != nil {
			return nil, err
		}
		for _, cfg := range all {
			if c.Connector == "" || cfg.ID == c.Connector || cfg.Type == c.Connector {
				cfgs = append(cfgs, cfg)
			}
		}
		if len(cfgs) == 0 {
			return nil, socbot.FieldError("contain", "connector", "no connector %q in %s", c.Connector, c.ConnectorConfig)
		}
	}
	for i := range cfgs {
		nftOpts(&cfgs[i])
		if cfgs[i].Timeout == 0 {
			cfgs[i].Timeout = timeout
		}
		if cfgs[i].TenantID == "" {
			cfgs[i].TenantID = c.Tenant
		}
	}
	return cfgs, nil
}

type containOutput struct {
	Connector string                    `json:"connector"`
	Type      string                    `json:"type"`
	Kind      socbot.ActionKind         `json:"kind"`
	Value     string                    `json:"value"`
	Outcome   socbot.ContainmentOutcome `json:"outcome,omitempty"`
	Change    string                    `json:"change,omitempty"`
	VendorRef string                    `json:"vendor_ref,omitempty"`
	ExpiresAt *time.Time                `json:"expires_at,omitempty"`
	Detail    string                    `json:"detail,omitempty"`
	Error     string                    `json:"error,omitempty"`
}

func (c *containTarget) run(kind socbot.ActionKind, ttl time.Duration, plan bool) error {
	const op = "contain"
	value := containment.NormalizeValue(kind, c.Value)
	if !c.Unsafe {
		rails := containment.DefaultRails()
		rails.SetTenant(c.Tenant, containment.TenantRails{AllowPrivate: c.AllowPrivate})
		if err := rails.Check(c.Tenant, kind, value, 0); err != nil {
			return socbot.E(op, socbot.KindInvalid, err.Error()+" (--unsafe skips the rails)")
		}
	}
	if kind == socbot.ActBlockIP || kind == socbot.ActUnblockIP {
		if _, err := netip.ParsePrefix(value); err != nil {
			if _, err := netip.ParseAddr(value); err != nil {
				return socbot.FieldError(op, "value", "%q is neither an IP address nor a CIDR", value)
			}
		}
	}
	cfgs, err := c.configs(kind)
	if err != nil {
		return err
	}
	ctx := context.Background()
	req := socbot.ContainmentRequest{Kind: kind, Value: value, TTL: ttl, Reference: c.Reference, IdempotencyKey: "cli:" + string(kind) + ":" + value}
	var outs []containOutput
	failed, used := 0, 0
	for _, cfg := range cfgs {
		conn, err := socbot.NewConnector(cfg)
		if err != nil {
			return socbot.E(op, "connector "+cfg.ID, err)
		}
		if !conn.Supports(kind) {
			if len(cfgs) == 1 {
				return socbot.E(op, socbot.KindUnsupported, fmt.Sprintf("connector %s (%s) cannot %s", cfg.ID, cfg.Type, kind))
			}
			continue
		}
		used++
		o := containOutput{Connector: cfg.ID, Type: cfg.Type, Kind: kind, Value: value}
		cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		if plan {
			changes, err := conn.Plan(cctx, []socbot.ContainmentRequest{req})
			cancel()
			if err != nil {
				o.Error = err.Error()
				failed++
			} else {
				for _, ch := range changes {
					o.Change = ch.Change
					outs = append(outs, o)
				}
				continue
			}
		} else {
			res, err := conn.Apply(cctx, []socbot.ContainmentRequest{req})
			cancel()
			switch {
			case err != nil:
				o.Outcome, o.Error = socbot.OutcomeFailed, err.Error()
				failed++
			case len(res) != 1:
				o.Outcome, o.Error = socbot.OutcomeFailed, fmt.Sprintf("connector answered %d results", len(res))
				failed++
			default:
				r := res[0]
				o.Outcome, o.VendorRef, o.ExpiresAt, o.Detail = r.Outcome, r.VendorRef, r.ExpiresAt, r.Detail
				if r.Err != nil {
					o.Error = r.Err.Error()
				}
				if r.Outcome == socbot.OutcomeFailed {
					failed++
				}
			}
		}
		outs = append(outs, o)
	}
	if used == 0 {
		return socbot.E(op, socbot.KindUnsupported, "no configured connector can "+string(kind))
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(outs); err != nil {
			return err
		}
	} else {
		for _, o := range outs {
			switch {
			case plan && o.Error == "":
				fmt.Printf("%s (%s): %s\n", o.Connector, o.Type, o.Change)
			case o.Error != "":
				fmt.Printf("%s (%s): %s %s FAILED: %s\n", o.Connector, o.Type, o.Kind, o.Value, o.Error)
			default:
				line := fmt.Sprintf("%s (%s): %s %s: %s", o.Connector, o.Type, o.Kind, o.Value, o.Outcome)
				if o.ExpiresAt != nil {
					line += " until " + o.ExpiresAt.UTC().Format(time.RFC3339)
				}
				if o.Detail != "" {
					line += " (" + o.Detail + ")"
				}
				fmt.Println(line)
			}
		}
	}
	if failed > 0 {
		return socbot.E(op, socbot.KindUnavailable, fmt.Sprintf("%d of %d connector(s) failed", failed, used))
	}
	return nil
}
