// Package notify is the notification dispatcher: it takes queued notices from the store's outbox and
// delivers them by e-mail over SMTP (plain text and HTML), to Slack and Microsoft Teams incoming
// webhooks, and to generic webhooks signed with HMAC-SHA256, retrying with backoff. Notices are leased
// while being sent, so a crash never loses one; every attempt is kept in the delivery log.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// Store is what the dispatcher needs of the store.
type Store interface {
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]socbot.Notification, error)
	ChannelByID(ctx context.Context, id int64) (socbot.Channel, error)
	FinishNotification(ctx context.Context, n socbot.Notification, timeline string) error
}

// SMTPConfig says how to reach the mail relay.
type SMTPConfig struct {
	Host     string `koanf:"host"`
	Port     int    `koanf:"port"`     // default 25 (587 with starttls, 465 with tls)
	From     string `koanf:"from"`     // envelope and header sender
	Username string `koanf:"username"` // PLAIN auth when set
	Password string `koanf:"password"`
	TLS      string `koanf:"tls"` // none, starttls (default when the server offers it), tls
	Hello    string `koanf:"hello"`
}

// Config tunes the dispatcher.
type Config struct {
	SMTP         SMTPConfig
	MaxAttempts  int           // attempts before a notice is marked failed (default 8)
	Timeout      time.Duration // per delivery (default 15 s)
	PollInterval time.Duration // how often the outbox is read (default 1 s)
	Lease        time.Duration // how long a claimed notice is held (default 2 min)
	BaseBackoff  time.Duration // first retry delay, doubling each time up to an hour (default 30 s)
	ConsoleURL   string        // base URL for links to incidents in messages, e.g. https://soc.example
}

// Observer hears about every delivery attempt (metrics).
type Observer func(kind, result string)

// Dispatcher delivers queued notices.
type Dispatcher struct {
	store  Store
	cfg    Config
	clock  socbot.Clock
	log    *slog.Logger
	client *http.Client
	obs    Observer
	wake   chan struct{}
}

// New returns a dispatcher.
func New(store Store, cfg Config, clock socbot.Clock, logger *slog.Logger, obs Observer) *Dispatcher {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 30 * time.Second
	}
	if obs == nil {
		obs = func(string, string) {}
	}
	return &Dispatcher{store: store, cfg: cfg, clock: clock, log: logger, obs: obs, wake: make(chan struct{}, 1),
		client: &http.Client{Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Wake asks the dispatcher to look at the outbox now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers notices until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.Warn("notification outbox read failed", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims and tries the notices due now, and returns how many it tried.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	list, err := d.store.ClaimNotifications(ctx, d.clock.Now(), d.cfg.Lease, 50)
	if err != nil {
		return 0, err
	}
	for _, n := range list {
		d.deliver(ctx, n)
	}
	return len(list), nil
}

// permanent marks an error that retrying will not fix.
type permanent struct{ error }

// retryAfter carries a receiver's requested delay.
type retryAfter struct {
	error
	after time.Duration
}

func (d *Dispatcher) deliver(ctx context.Context, n socbot.Notification) {
	ch, err := d.store.ChannelByID(ctx, n.ChannelID)
	if err == nil && !ch.Enabled {
		err = permanent{errors.New("channel disabled")}
	}
	if err != nil && socbot.IsKind(err, socbot.KindNotFound) {
		err = permanent{errors.New("channel deleted")}
	}
	var body socbot.NotificationBody
	if err == nil {
		if jerr := json.Unmarshal([]byte(n.Body), &body); jerr != nil {
			err = permanent{fmt.Errorf("notice body: %w", jerr)}
		}
	}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		err = d.send(sctx, ch, n, body)
		cancel()
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the notice is tried again
	}
	now := d.clock.Now()
	n.Attempts++
	timeline := ""
	switch {
	case err == nil:
		n.Status, n.LastError, n.SentAt = socbot.DeliverySent, "", &now
		timeline = fmt.Sprintf("notice %s sent by %s to %s", body.Event, ch.Kind, redactTarget(ch))
		d.obs(ch.Kind, "sent")
	case isPermanent(err) || n.Attempts >= d.cfg.MaxAttempts:
		n.Status, n.LastError = socbot.DeliveryFailed, err.Error()
		timeline = fmt.Sprintf("notice %s by %s to %s FAILED after %d attempt(s): %v", body.Event, ch.Kind, redactTarget(ch), n.Attempts, err)
		d.obs(ch.Kind, "failed")
		d.log.Error("notification failed for good", "notification", n.ID, "channel", n.ChannelID, "attempts", n.Attempts, "err", err)
	default:
		n.LastError = err.Error()
		n.NextAttemptAt = now.Add(d.backoff(n.Attempts, err))
		d.obs(ch.Kind, "retry")
		d.log.Warn("notification will be retried", "notification", n.ID, "attempt", n.Attempts, "next", n.NextAttemptAt, "err", err)
	}
	if ferr := d.store.FinishNotification(ctx, n, timeline); ferr != nil {
		d.log.Error("could not record a notification outcome", "notification", n.ID, "err", ferr)
	}
}

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// backoff is BaseBackoff doubled per attempt, capped at an hour, with ±20% jitter; a receiver's
// Retry-After wins when it asks for longer.
func (d *Dispatcher) backoff(attempt int, err error) time.Duration {
	b := d.cfg.BaseBackoff << min(attempt-1, 16)
	b = min(b, time.Hour)
	b = time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
	var ra retryAfter
	if errors.As(err, &ra) && ra.after > b {
		b = ra.after
	}
	return b
}

func (d *Dispatcher) send(ctx context.Context, ch socbot.Channel, n socbot.Notification, body socbot.NotificationBody) error {
	msg := render(n, body, d.cfg.ConsoleURL)
	switch ch.Kind {
	case socbot.ChannelEmail:
		return d.sendMail(ctx, ch, n, msg)
	case socbot.ChannelSlack:
		return d.post(ctx, ch.Target, slackPayload(msg), nil)
	case socbot.ChannelTeams:
		return d.post(ctx, ch.Target, teamsPayload(msg), nil)
	case socbot.ChannelWebhook:
		return d.postSigned(ctx, ch, n, body)
	}
	return permanent{fmt.Errorf("unknown channel kind %q", ch.Kind)}
}

// post sends a JSON payload and classifies the answer: 2xx done; 408, 429 and 5xx retried (honouring
// Retry-After); other 4xx permanent (the URL or payload is wrong and will stay wrong).
func (d *Dispatcher) post(ctx context.Context, url string, payload []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(payload)))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "socbot-notify/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("receiver answered %s", resp.Status)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return retryAfter{err, time.Duration(s) * time.Second}
		}
		return err
	default:
		return permanent{err}
	}
}

// redactTarget names where a notice went without the secret part of a webhook URL.
func redactTarget(ch socbot.Channel) string {
	if ch.Kind == socbot.ChannelEmail {
		return ch.Target
	}
	if i := strings.Index(ch.Target, "://"); i >= 0 {
		rest := ch.Target[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return ch.Target[:i+3+j] + "/…"
		}
	}
	return ch.Name
}
