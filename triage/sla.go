package triage

import (
	"context"
	"fmt"
	"time"

	socbot "github.com/socbot/socbot"
)

// SLAPrincipal is who escalations are recorded as.
var SLAPrincipal = socbot.Bot("sla")

// RunSLA checks SLA deadlines every interval until ctx ends: an incident not acknowledged by its
// acknowledge deadline, or not resolved by its resolve deadline, is escalated once for each (its
// priority raised if the tenant's policy says so), with a timeline entry, an audit entry and an
// incident.escalated notice. Several nodes may run it: each escalation happens once.
func (b *Bot) RunSLA(ctx context.Context) error {
	t := time.NewTicker(b.cfg.SLAInterval)
	defer t.Stop()
	for {
		if _, err := b.CheckSLA(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("SLA check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CheckSLA escalates every breached incident once and returns how many it escalated.
func (b *Bot) CheckSLA(ctx context.Context) (int, error) {
	now := b.clock.Now()
	n := 0
	for {
		list, err := b.store.Breached(ctx, now, 200)
		if err != nil {
			return n, err
		}
		progressed := false
		for _, inc := range list {
			cfg, err := b.configs.get(ctx, inc.TenantID)
			if err != nil {
				return n, err
			}
			sla := cfg.tenant.Settings.SLAFor(inc.Priority)
			reason := fmt.Sprintf("not resolved within the %s resolve SLA", time.Duration(sla.Resolve))
			if inc.EscalationLevel == 0 && inc.AcknowledgedAt == nil && inc.AckDue != nil && inc.AckDue.Before(now) {
				reason = fmt.Sprintf("not acknowledged within the %s acknowledge SLA", time.Duration(sla.Acknowledge))
			}
			ok, err := b.store.Escalate(ctx, inc.TenantID, inc.ID, inc.EscalationLevel, cfg.tenant.Settings.Escalation.RaisePriority, reason, SLAPrincipal)
			if err != nil {
				return n, err
			}
			if ok {
				n++
				progressed = true
			}
		}
		if len(list) < 200 || !progressed {
			return n, nil
		}
	}
}
