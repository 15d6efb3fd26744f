package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/socbot/socbot/sqlstore"
)

func init() {
	register("audit", "Read and verify the hash-chained audit log.", &auditCmd{})
}

type auditCmd struct {
	Verify auditVerifyCmd `cmd:"" help:"Recompute the hash chain; report every changed or removed entry and exit 1 if any."`
	List   auditListCmd   `cmd:"" help:"Print audit entries as JSON lines, oldest first."`
}

type auditVerifyCmd struct {
	storeFlags
}

func (c *auditVerifyCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		n, problems, err := s.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		if len(problems) == 0 {
			fmt.Printf("audit log intact: %d entries verified\n", n)
			return nil
		}
		for _, p := range problems {
			fmt.Printf("entry %d: %s\n", p.Seq, p.Reason)
		}
		return fmt.Errorf("audit log tampered with: %d problem(s) in %d entries", len(problems), n)
	})
}

type auditListCmd struct {
	storeFlags
	Tenant string `help:"Only this tenant's entries (id)."`
	After  int64  `help:"Only entries after this sequence number."`
	Limit  int    `help:"At most this many entries." default:"1000"`
}

func (c *auditListCmd) Run(g *Globals) error {
	return withStore(g, c.storeFlags, func(ctx context.Context, s *sqlstore.Store) error {
		list, err := s.AuditEntries(ctx, c.Tenant, c.After, c.Limit)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		for _, e := range list {
			_ = enc.Encode(e)
		}
		return nil
	})
}
