package main

import (
	"context"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/console"
	"github.com/socbot/socbot/containment"
	"github.com/socbot/socbot/containment/service"
)

// The web console, mounted at / on the API server. Reports come from the report bot when it runs on
// this node; approvals and indicators from the containment and intel bots once they are wired to the
// node (consoleApprovals and consoleIndicators below return nil until then, and the pages say so).
func init() {
	registerBot("console", func(ctx context.Context, n *node) error {
		c, err := console.New(console.Deps{
			Store:      n.store,
			Console:    n.store,
			Reports:    func() socbot.ReportService { return n.api.Reports },
			Approvals:  func() socbot.ApprovalQueue { return consoleApprovals(n) },
			Indicators: func() socbot.IndicatorSearch { return consoleIndicators(n) },
			Clock:      n.clock,
			Logger:     n.log.With("bot", "console"),
		}, n.cfg.Console)
		if err != nil {
			return err
		}
		n.api.Mount("/", c.Handler())
		n.run("console-sessions", func() error {
			t := time.NewTicker(time.Hour)
			defer t.Stop()
			for {
				select {
				case <-n.bctx.Done():
					return nil
				case <-t.C:
					if _, err := n.store.DeleteExpiredSessions(n.bctx, n.clock.Now()); err != nil {
						n.log.Warn("console: could not remove expired sessions", "err", err)
					}
				}
			}
		})
		return nil
	})
}

// consoleApprovals is the containment bot's approval gate for the console, nil when the node does not
// run the containment bot.
func consoleApprovals(n *node) socbot.ApprovalQueue {
	if svc, ok := n.api.Containment.(*service.Service); ok && svc != nil {
		return ApprovalsOf(svc.Bot())
	}
	return nil
}

// consoleIndicators is the intel bot's indicator search for the console, nil when the node does not
// run the intel bot.
func consoleIndicators(n *node) socbot.IndicatorSearch {
	if n.api.Intel == nil {
		return nil
	}
	return intelSearch{n.api.Intel}
}

// intelSearch adapts the intel service to the console: a query is an exact indicator value (defanged
// is fine) or, failing that, the start of one; an empty query lists the most recent.
type intelSearch struct{ svc socbot.IntelService }

var _ socbot.IndicatorSearch = intelSearch{}

func (s intelSearch) SearchIndicators(ctx context.Context, p socbot.Principal, tenantID, query string, limit int) ([]socbot.IndicatorView, error) {
	q := socbot.IntelQuery{Value: query, Limit: limit}
	list, err := s.svc.SearchIndicators(ctx, p, tenantID, q)
	if socbot.IsKind(err, socbot.KindInvalid) { // not a whole indicator value: search by its start
		list, err = nil, nil
	}
	if err == nil && len(list) == 0 && query != "" {
		list, err = s.svc.SearchIndicators(ctx, p, tenantID, socbot.IntelQuery{Prefix: query, Limit: limit})
	}
	if err != nil {
		return nil, err
	}
	out := make([]socbot.IndicatorView, 0, len(list))
	for _, in := range list {
		v := socbot.IndicatorView{ID: in.ID, TenantID: in.TenantID, Type: in.Type, Value: in.Value, Score: in.Score, TLP: in.TLP,
			Tags: in.Tags, FirstSeen: in.FirstSeen, LastSeen: in.LastSeen}
		for _, src := range in.Sources {
			v.Sources = append(v.Sources, src.Name)
		}
		out = append(out, v)
	}
	return out, nil
}

// ApprovalsOf adapts the containment bot to the console's approval interface, with each pending
// action's dry run.
func ApprovalsOf(b *containment.Bot) socbot.ApprovalQueue { return containmentApprovals{b} }

type containmentApprovals struct{ b *containment.Bot }

var _ socbot.ApprovalQueue = containmentApprovals{}

func (a containmentApprovals) view(ctx context.Context, x containment.Action, plan bool) socbot.PendingAction {
	v := socbot.PendingAction{ID: x.ID, TenantID: x.TenantID, IncidentID: x.IncidentID, Kind: x.Kind, Value: x.Value, ConnectorID: x.ConnectorID,
		State: string(x.State), RequestedBy: x.RequestedBy, Reason: x.Reason, Required: x.RequiredApprovals, Approvers: x.Approvers(),
		Deadline: x.ApprovalDeadline, CreatedAt: x.CreatedAt}
	if plan {
		changes, err := a.b.Plan(ctx, containment.Request{TenantID: x.TenantID, Kind: x.Kind, Value: x.Value, ConnectorID: x.ConnectorID, TTL: x.TTL})
		v.DryRun = changes
		if err != nil {
			v.DryRunError = err.Error()
		}
	}
	return v
}

func (a containmentApprovals) Pending(ctx context.Context, p socbot.Principal, tenantID string) ([]socbot.PendingAction, error) {
	list, err := a.b.Pending(ctx, p, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]socbot.PendingAction, 0, len(list))
	for _, x := range list {
		out = append(out, a.view(ctx, x, true))
	}
	return out, nil
}

func (a containmentApprovals) Approve(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (socbot.PendingAction, error) {
	x, err := a.b.Approve(ctx, p, tenantID, id, comment)
	return a.view(ctx, x, false), err
}

func (a containmentApprovals) Deny(ctx context.Context, p socbot.Principal, tenantID string, id int64, comment string) (socbot.PendingAction, error) {
	x, err := a.b.Deny(ctx, p, tenantID, id, comment)
	return a.view(ctx, x, false), err
}
