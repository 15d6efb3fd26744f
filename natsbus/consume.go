package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
)

// AlertHandler processes alert batches. Returning nil acknowledges every message of the call; an error
// leaves them to be redelivered, so the handler must commit all or nothing and be idempotent.
type AlertHandler func(ctx context.Context, batches []socbot.AlertBatch) error

// ConsumeOptions configures an alert consumer.
type ConsumeOptions struct {
	Name        string // durable consumer name prefix, e.g. "triage"
	MaxMessages int    // most bus messages per handler call (default 64)
	// DeadLetter keeps a message that can never be processed (it does not decode). It is then
	// terminated on the bus.
	DeadLetter func(ctx context.Context, subject string, data []byte, reason string) error
}

// ConsumeAlerts runs one consumer per partition until ctx ends. Each partition's messages are handled
// in order, one call at a time. On a NATS cluster the partition consumers use a pinned priority group,
// so that exactly one node at a time owns each partition and its tenants.
func (b *Bus) ConsumeAlerts(ctx context.Context, opt ConsumeOptions, h AlertHandler) error {
	if opt.Name == "" {
		opt.Name = "triage"
	}
	if opt.MaxMessages <= 0 {
		opt.MaxMessages = 64
	}
	var wg sync.WaitGroup
	errs := make(chan error, b.cfg.Partitions)
	for p := 0; p < b.cfg.Partitions; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			if err := b.consumePartition(ctx, p, opt, h); err != nil {
				errs <- err
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (b *Bus) consumePartition(ctx context.Context, p int, opt ConsumeOptions, h AlertHandler) error {
	const op = "natsbus.consume"
	cfg := jetstream.ConsumerConfig{
		Durable:       fmt.Sprintf("%s-p%d", opt.Name, p),
		FilterSubject: fmt.Sprintf("%s%d", alertSubject, p),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 4 * opt.MaxMessages,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	var consumeOpts []jetstream.PullConsumeOpt
	consumeOpts = append(consumeOpts, jetstream.PullMaxMessages(2*opt.MaxMessages))
	if !b.Embedded() {
		cfg.PriorityPolicy = jetstream.PriorityPolicyPinned
		cfg.PriorityGroups = []string{priorityGroup}
		cfg.PinnedTTL = 30 * time.Second
		consumeOpts = append(consumeOpts, jetstream.PullPriorityGroup(priorityGroup))
	}
	if b.Embedded() {
		// This process is the only consumer. Messages a previous run took but never acknowledged (it
		// crashed) would wait out the ack timeout and then arrive after newer ones; starting the
		// consumer afresh delivers everything still in the work queue, in order, right away.
		if err := b.js.DeleteConsumer(ctx, AlertStream, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return socbot.E(op, socbot.KindUnavailable, "reset consumer "+cfg.Durable, err)
		}
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, AlertStream, cfg)
	if err != nil {
		return socbot.E(op, socbot.KindUnavailable, "create consumer "+cfg.Durable, err)
	}
	ch := make(chan jetstream.Msg, 2*opt.MaxMessages)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case ch <- m:
		case <-ctx.Done():
		}
	}, consumeOpts...)
	if err != nil {
		return socbot.E(op, socbot.KindUnavailable, "consume "+cfg.Durable, err)
	}
	defer cc.Stop()

	backoff := 100 * time.Millisecond
	msgs := make([]jetstream.Msg, 0, opt.MaxMessages)
	batches := make([]socbot.AlertBatch, 0, opt.MaxMessages)
	for {
		msgs = msgs[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			msgs = append(msgs, m)
		}
		// Take whatever else is already waiting, up to the limit, without waiting for more.
	drain:
		for len(msgs) < opt.MaxMessages {
			select {
			case m := <-ch:
				msgs = append(msgs, m)
			default:
				break drain
			}
		}
		batches = batches[:0]
		var acked []jetstream.Msg
		for _, m := range msgs {
			meta, err := m.Metadata()
			if err != nil {
				b.log.Error("bus message without metadata", "subject", m.Subject(), "err", err)
				_ = m.Term()
				continue
			}
			tenant := m.Headers().Get(tenantHeader)
			alertsIn, err := DecodeAlerts(m.Data(), tenant)
			if err == nil && tenant == "" {
				err = fmt.Errorf("message has no %s header", tenantHeader)
			}
			if err != nil {
				reason := fmt.Sprintf("stream sequence %d: %v", meta.Sequence.Stream, err)
				b.log.Error("undecodable alert message sent to dead letters", "seq", meta.Sequence.Stream, "err", err)
				if opt.DeadLetter != nil {
					if dlErr := opt.DeadLetter(ctx, m.Subject(), m.Data(), reason); dlErr != nil {
						_ = m.NakWithDelay(backoff)
						continue
					}
				}
				_ = m.Term()
				continue
			}
			batches = append(batches, socbot.AlertBatch{Stream: b.streamID, Seq: meta.Sequence.Stream, TenantID: tenant, Alerts: alertsIn})
			acked = append(acked, m)
		}
		if len(batches) == 0 {
			continue
		}
		// Retry a failed call in place (the database may be down) rather than moving on: later
		// messages must not overtake earlier ones, or correlation would depend on failures.
		for {
			err := h(ctx, batches)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("alert batch failed; retrying", "partition", p, "messages", len(acked), "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			for _, m := range acked {
				_ = m.InProgress()
			}
		}
		backoff = 100 * time.Millisecond
		for _, m := range acked {
			_ = m.Ack()
		}
	}
}
