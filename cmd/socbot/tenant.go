package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/sqlstore"
)

func init() {
	register("tenant", "Create and list client tenants (works with or without a running server).", &tenantCmd{})
}

type tenantCmd struct {
	Create tenantCreateCmd `cmd:"" help:"Create a tenant and print its id."`
	List   tenantListCmd   `cmd:"" help:"List tenants as JSON lines."`
}

type tenantCreateCmd struct {
	storeFlags
	Name     string `arg:"" help:"Tenant name: letters, digits, '-', '_' and '.'."`
	TimeZone string `help:"IANA time zone for the tenant's schedules and reports." default:"UTC"`
}

func (c *tenantCreateCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		t := socbot.Tenant{Name: c.Name, TimeZone: c.TimeZone}
		if err := s.CreateTenant(ctx, &t, cliPrincipal()); err != nil {
			return err
		}
		fmt.Println(t.ID)
		return nil
	})
}

type tenantListCmd struct {
	storeFlags
}

func (c *tenantListCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		list, err := s.Tenants(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		for _, t := range list {
			_ = enc.Encode(map[string]any{"id": t.ID, "name": t.Name, "time_zone": t.TimeZone, "created_at": t.CreatedAt})
		}
		return nil
	})
}
