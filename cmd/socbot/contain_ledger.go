package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/containment/service"
	"github.com/socbot/socbot/secrets"
	"github.com/socbot/socbot/sqlstore"
)

// The containment ledger from the command line: it works on the server's database directly (like
// `socbot tenant`), so an operator can list, approve, deny and remove actions with or without the
// API; a running server's executor carries out what was approved or removed. Changes are audited as
// cli:<user>.

type ledgerFlags struct {
	storeFlags
	Tenant string `required:"" help:"Tenant id or name." placeholder:"TENANT"`
	JSON   bool   `help:"Print JSON."`
}

type containActionsCmd struct {
	ledgerFlags
	State    string `help:"Only these states, comma-separated (requested, awaiting_approval, approved, applying, applied, expiring, removed, failed, denied)." placeholder:"LIST"`
	Incident int64  `help:"Only the actions of this incident id."`
	Limit    int    `default:"100" help:"At most this many."`
}

type containPendingCmd struct{ ledgerFlags }

type containDecideCmd struct {
	ledgerFlags
	ID      int64  `arg:"" help:"Action id."`
	Comment string `help:"Why (recorded with the decision)."`
}

type containDenyCmd struct {
	ledgerFlags
	ID      int64  `arg:"" help:"Action id."`
	Comment string `required:"" help:"Why it is denied (recorded with the decision)."`
}

type containRemoveCmd struct {
	ledgerFlags
	ID     int64  `arg:"" help:"Action id."`
	Reason string `required:"" help:"Why it is undone (audited)."`
}

// open opens the database and a containment service over it, and resolves the tenant.
func (f ledgerFlags) open(ctx context.Context, g *Globals) (*service.Service, *sqlstore.Store, string, error) {
	cfg, err := loadConfig(g, f.storeFlags, nil)
	if err != nil {
		return nil, nil, "", err
	}
	st, err := openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		return nil, nil, "", err
	}
	t, err := st.Tenant(ctx, f.Tenant)
	if err != nil {
		if t, err = st.TenantByName(ctx, f.Tenant); err != nil {
			st.Close()
			return nil, nil, "", socbot.FieldError("contain", "tenant", "no tenant %q", f.Tenant)
		}
	}
	keys, err := secrets.OpenKeyring(cfg.Data)
	if err != nil {
		st.Close()
		return nil, nil, "", err
	}
	svc, err := service.New(ctx, service.Config{Store: st, Sealer: keys, Log: g.Logger()})
	if err != nil {
		st.Close()
		return nil, nil, "", err
	}
	return svc, st, t.ID, nil
}

func printActions(asJSON bool, as []socbot.ContainmentAction) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(as)
	}
	for _, a := range as {
		line := fmt.Sprintf("%d\t%s\t%s %s on %s\t%s", a.ID, a.State, a.Kind, a.Value, a.ConnectorID, a.RequestedBy)
		if a.State == "awaiting_approval" {
			line += fmt.Sprintf("\t%d of %d approval(s)", len(a.Approvals), a.RequiredApprovals)
		}
		if a.Detail != "" {
			line += "\t" + a.Detail
		}
		fmt.Println(line)
	}
	return nil
}

func (c *containActionsCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, st, tenant, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	q := socbot.ContainmentQuery{IncidentID: c.Incident, Limit: c.Limit}
	if c.State != "" {
		q.States = strings.Split(c.State, ",")
	}
	as, err := svc.ListActions(ctx, cliPrincipal(), tenant, q)
	if err != nil {
		return err
	}
	return printActions(c.JSON, as)
}

func (c *containPendingCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, st, tenant, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	as, err := svc.PendingApprovals(ctx, cliPrincipal(), tenant)
	if err != nil {
		return err
	}
	return printActions(c.JSON, as)
}

func (c *containDecideCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, st, tenant, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := svc.Approve(ctx, cliPrincipal(), tenant, c.ID, c.Comment)
	if err != nil {
		return err
	}
	return printActions(c.JSON, []socbot.ContainmentAction{a})
}

func (c *containDenyCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, st, tenant, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := svc.Deny(ctx, cliPrincipal(), tenant, c.ID, c.Comment)
	if err != nil {
		return err
	}
	return printActions(c.JSON, []socbot.ContainmentAction{a})
}

func (c *containRemoveCmd) Run(g *Globals) error {
	ctx := context.Background()
	svc, st, tenant, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := svc.RemoveAction(ctx, cliPrincipal(), tenant, c.ID, c.Reason)
	if err != nil {
		return err
	}
	return printActions(c.JSON, []socbot.ContainmentAction{a})
}
