package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

func validateChannel(op string, c *socbot.Channel) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return socbot.FieldError(op, "name", "name is required")
	}
	switch c.Kind {
	case socbot.ChannelEmail:
		for _, addr := range strings.Split(c.Target, ",") {
			if _, err := mail.ParseAddress(strings.TrimSpace(addr)); err != nil {
				return socbot.FieldError(op, "target", "not an e-mail address: %q", strings.TrimSpace(addr))
			}
		}
	case socbot.ChannelSlack, socbot.ChannelTeams, socbot.ChannelWebhook:
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return socbot.FieldError(op, "target", "target must be an http(s) URL")
		}
	default:
		return socbot.FieldError(op, "kind", "kind must be email, slack, teams or webhook, not %q", c.Kind)
	}
	if c.Kind == socbot.ChannelWebhook && c.Secret == "" {
		return socbot.FieldError(op, "secret", "a webhook channel needs a secret to sign its requests")
	}
	if len(c.Events) == 0 {
		c.Events = []string{socbot.EventIncidentCreated, socbot.EventIncidentEscalated, socbot.EventIncidentClosed}
	}
	for _, e := range c.Events {
		ok := false
		for _, known := range socbot.NotifyEvents {
			ok = ok || e == known
		}
		if !ok {
			return socbot.FieldError(op, "events", "unknown event %q (known: %s)", e, strings.Join(socbot.NotifyEvents, ", "))
		}
	}
	if c.MinPriority == socbot.PriorityNone {
		c.MinPriority = socbot.P4
	}
	return nil
}

// CreateChannel stores a notification channel.
func (s *Store) CreateChannel(ctx context.Context, c *socbot.Channel, by socbot.Principal) error {
	const op = "sqlstore.CreateChannel"
	if err := validateChannel(op, c); err != nil {
		return err
	}
	c.CreatedAt = fromUS(us(s.clock.Now()))
	c.HasSecret = c.Secret != ""
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO channels (tenant_id, name, kind, target, secret, events, min_priority, enabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			c.TenantID, c.Name, c.Kind, c.Target, c.Secret, jsStrings(c.Events), int(c.MinPriority), c.Enabled, us(c.CreatedAt)).Scan(&c.ID); err != nil {
			return dbErr(op, err)
		}
		return s.appendAudit(ctx, tx, auditRec(by, c.TenantID, "channel.create", fmt.Sprintf("channel:%d", c.ID), "",
			map[string]any{"name": c.Name, "kind": c.Kind, "target": c.Target, "events": c.Events}))
	})
}

const channelCols = `id, tenant_id, name, kind, target, secret, events, min_priority, enabled, created_at`

func scanChannel(r scanner) (socbot.Channel, error) {
	var c socbot.Channel
	var events string
	var prio int
	var created int64
	if err := r.Scan(&c.ID, &c.TenantID, &c.Name, &c.Kind, &c.Target, &c.Secret, &events, &prio, &c.Enabled, &created); err != nil {
		return c, err
	}
	unjs(events, &c.Events)
	c.MinPriority = socbot.Priority(prio)
	c.CreatedAt = fromUS(created)
	c.HasSecret = c.Secret != ""
	return c, nil
}

// Channels lists the tenant's channels (secrets included: the HTTP layer never serialises them).
func (s *Store) Channels(ctx context.Context, tenantID string) ([]socbot.Channel, error) {
	return s.channels(ctx, s.db, tenantID, false)
}

func (s *Store) channels(ctx context.Context, ex execer, tenantID string, enabledOnly bool) ([]socbot.Channel, error) {
	query := `SELECT ` + channelCols + ` FROM channels WHERE tenant_id = ?`
	if enabledOnly {
		query += ` AND enabled`
	}
	rows, err := ex.QueryContext(ctx, s.q(query+` ORDER BY id`), tenantID)
	if err != nil {
		return nil, dbErr("sqlstore.Channels", err)
	}
	defer rows.Close()
	out := []socbot.Channel{}
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Channels", err)
		}
		out = append(out, c)
	}
	return out, dbErr("sqlstore.Channels", rows.Err())
}

// ChannelByID returns a channel of any tenant (for the dispatcher).
func (s *Store) ChannelByID(ctx context.Context, id int64) (socbot.Channel, error) {
	c, err := scanChannel(s.db.QueryRowContext(ctx, s.q(`SELECT `+channelCols+` FROM channels WHERE id = ?`), id))
	return c, dbErr("sqlstore.ChannelByID", err)
}

// DeleteChannel removes a channel; its past notifications stay in the delivery log.
func (s *Store) DeleteChannel(ctx context.Context, tenantID string, id int64, by socbot.Principal) error {
	return s.deleteRow(ctx, "sqlstore.DeleteChannel", "channels", tenantID, id, by, "channel.delete", "channel")
}

// enqueue queues a notification of event about inc for every enabled channel of the tenant that
// subscribes to the event at the incident's priority. It runs inside the transaction that made the
// change, so a committed change always has its notices queued.
func (s *Store) enqueue(ctx context.Context, tx execer, tenantID, event string, inc socbot.Incident, detail string) error {
	chans, err := s.channels(ctx, tx, tenantID, true)
	if err != nil || len(chans) == 0 {
		return err
	}
	var tenantName string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT name FROM tenants WHERE id = ?`), tenantID).Scan(&tenantName); err != nil {
		return dbErr("sqlstore.enqueue", err)
	}
	now := fromUS(us(s.clock.Now()))
	body := js(socbot.NotificationBody{Event: event, Tenant: tenantName, TenantID: tenantID, Incident: inc, Detail: detail, At: now})
	subject := fmt.Sprintf("[%s] %s incident #%d %s: %s", tenantName, inc.Priority, inc.Number, eventVerb(event), inc.Title)
	for _, c := range chans {
		if !wants(c, event, inc.Priority) {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO notifications (tenant_id, channel_id, event, incident_id, subject, body, status, attempts, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`),
			tenantID, c.ID, event, inc.ID, subject, body, socbot.DeliveryPending, us(now), us(now)); err != nil {
			return dbErr("sqlstore.enqueue", err)
		}
	}
	return nil
}

func wants(c socbot.Channel, event string, p socbot.Priority) bool {
	if p != socbot.PriorityNone && c.MinPriority != socbot.PriorityNone && p > c.MinPriority {
		return false
	}
	for _, e := range c.Events {
		if e == event {
			return true
		}
	}
	return false
}

func eventVerb(event string) string {
	switch event {
	case socbot.EventIncidentCreated:
		return "opened"
	case socbot.EventIncidentEscalated:
		return "escalated"
	case socbot.EventIncidentClosed:
		return "closed"
	case socbot.EventIncidentNote:
		return "note added"
	}
	return "updated"
}

const notifCols = `id, tenant_id, channel_id, event, COALESCE(incident_id, 0), subject, body, status, attempts, last_error, next_attempt_at, created_at, sent_at`

func scanNotification(r scanner) (socbot.Notification, error) {
	var n socbot.Notification
	var next, created int64
	var sent sql.NullInt64
	if err := r.Scan(&n.ID, &n.TenantID, &n.ChannelID, &n.Event, &n.IncidentID, &n.Subject, &n.Body, &n.Status, &n.Attempts, &n.LastError, &next, &created, &sent); err != nil {
		return n, err
	}
	n.NextAttemptAt, n.CreatedAt, n.SentAt = fromUS(next), fromUS(created), optTime(sent)
	return n, nil
}

// Notifications lists the tenant's notifications newest first: the delivery log.
func (s *Store) Notifications(ctx context.Context, tenantID string, limit int) ([]socbot.Notification, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+notifCols+` FROM notifications WHERE tenant_id = ? ORDER BY id DESC LIMIT ?`), tenantID, limit)
	if err != nil {
		return nil, dbErr("sqlstore.Notifications", err)
	}
	defer rows.Close()
	out := []socbot.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, dbErr("sqlstore.Notifications", err)
		}
		out = append(out, n)
	}
	return out, dbErr("sqlstore.Notifications", rows.Err())
}

// ClaimNotifications leases due pending notifications: their next attempt moves to now+lease, so that
// a dispatcher that dies mid-send leaves them to be retried after the lease, never lost.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]socbot.Notification, error) {
	const op = "sqlstore.ClaimNotifications"
	var out []socbot.Notification
	err := s.tx(ctx, func(tx *sql.Tx) error {
		query := `SELECT ` + notifCols + ` FROM notifications WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`
		if s.engine == Postgres {
			query += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, s.q(query), socbot.DeliveryPending, us(now), limit)
		if err != nil {
			return dbErr(op, err)
		}
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				rows.Close()
				return dbErr(op, err)
			}
			out = append(out, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(op, err)
		}
		for i := range out {
			out[i].NextAttemptAt = now.Add(lease)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE notifications SET next_attempt_at = ? WHERE id = ?`), us(out[i].NextAttemptAt), out[i].ID); err != nil {
				return dbErr(op, err)
			}
		}
		return nil
	})
	return out, err
}

// FinishNotification records the outcome of a delivery attempt: status, attempts, last error, the next
// attempt time (for a retry) and the sent time. A notice about an incident that was sent, or given up
// on, also goes on the incident's timeline with the text given.
func (s *Store) FinishNotification(ctx context.Context, n socbot.Notification, timeline string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE notifications SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?, sent_at = ? WHERE id = ?`),
			n.Status, n.Attempts, n.LastError, us(n.NextAttemptAt), nullUS(n.SentAt), n.ID)
		if err != nil {
			return dbErr("sqlstore.FinishNotification", err)
		}
		if timeline == "" || n.IncidentID == 0 || n.Status == socbot.DeliveryPending {
			return nil
		}
		return s.addTimeline(ctx, tx, socbot.TimelineEntry{TenantID: n.TenantID, IncidentID: n.IncidentID, At: fromUS(us(s.clock.Now())),
			Actor: "bot:notify", Kind: "notified", Text: timeline})
	})
}
