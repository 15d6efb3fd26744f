package main

import (
	"context"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/sqlstore"
)

// withStore opens the database the flags, environment and configuration name, runs fn on it, and
// closes it: the commands that work with or without a running server.
func withStore(g *Globals, sf storeFlags, fn func(ctx context.Context, s *sqlstore.Store) error) error {
	ctx := context.Background()
	cfg, err := loadConfig(g, sf, nil)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, cfg, g.Logger(), socbot.SystemClock{})
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(ctx, s)
}

// findTenant finds a tenant by name or id; field names the flag for the error.
func findTenant(ctx context.Context, s *sqlstore.Store, ref, field string) (socbot.Tenant, error) {
	t, err := s.TenantByName(ctx, ref)
	if err == nil {
		return t, nil
	}
	if t, err = s.Tenant(ctx, ref); err == nil {
		return t, nil
	}
	return t, socbot.FieldError("find tenant", field, "no tenant %q", ref)
}
