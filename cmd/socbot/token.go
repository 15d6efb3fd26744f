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
	register("token", "Create, list and revoke API tokens (works with or without a running server).", &tokenCmd{})
}

type tokenCmd struct {
	Create tokenCreateCmd `cmd:"" help:"Create an API token and print it on stdout (and nothing else). It is shown only this once."`
	List   tokenListCmd   `cmd:"" help:"List tokens as JSON lines (never their secrets)."`
	Revoke tokenRevokeCmd `cmd:"" help:"Revoke a token by id."`
}

type tokenCreateCmd struct {
	storeFlags
	Role      string `required:"" enum:"admin,analyst,viewer,ingest" help:"admin (whole MSSP), analyst, viewer (a client's read-only user) or ingest (post alerts only)."`
	Tenant    string `help:"Tenant name or id; required for every role but admin." placeholder:"NAME"`
	Name      string `help:"A label for the token, e.g. the integration that uses it."`
	ExpiresIn string `help:"Expire the token after this long (e.g. 90d, 720h)." placeholder:"DURATION"`
}

func (c *tokenCreateCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		tok := socbot.Token{Role: socbot.Role(c.Role), Name: c.Name}
		if c.Tenant != "" {
			t, err := findTenant(ctx, s, c.Tenant, "tenant")
			if err != nil {
				return err
			}
			tok.TenantID = t.ID
		}
		if c.ExpiresIn != "" {
			d, err := socbot.ParseDuration(c.ExpiresIn)
			if err != nil {
				return socbot.FieldError("token create", "expires-in", "%v", err)
			}
			exp := socbot.SystemClock{}.Now().Add(d)
			tok.ExpiresAt = &exp
		}
		secret, hash := socbot.NewTokenSecret()
		tok.Hash, tok.Prefix = hash, secret[:12]
		if err := s.CreateToken(ctx, &tok, cliPrincipal()); err != nil {
			return err
		}
		fmt.Println(secret)
		return nil
	})
}

type tokenListCmd struct {
	storeFlags
	Tenant string `help:"Only this tenant's tokens (name or id)."`
}

func (c *tokenListCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		tenant := ""
		if c.Tenant != "" {
			t, err := findTenant(ctx, s, c.Tenant, "tenant")
			if err != nil {
				return err
			}
			tenant = t.ID
		}
		list, err := s.Tokens(ctx, tenant)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		for _, t := range list {
			_ = enc.Encode(t)
		}
		return nil
	})
}

type tokenRevokeCmd struct {
	storeFlags
	ID string `arg:"" help:"Token id (from token list)."`
}

func (c *tokenRevokeCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		return s.RevokeToken(ctx, "", c.ID, cliPrincipal())
	})
}
