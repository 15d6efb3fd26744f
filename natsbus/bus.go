// Package natsbus is socbot's bus on NATS JetStream: an embedded in-process server with file storage
// for one machine, or a connection to a NATS cluster for many. Accepted alerts are published to a
// durable work-queue stream and acknowledged to the sender only once JetStream has stored them;
// consumers pull them in batches and acknowledge only after their database commit.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	socbot "github.com/socbot/socbot"
)

// Stream and subject names.
const (
	AlertStream    = "SOCBOT_ALERTS"
	alertSubject   = "socbot.alerts."
	tenantHeader   = "Socbot-Tenant"
	priorityGroup  = "triage"
	maxEmbeddedMsg = 8 << 20
)

// Config configures the bus.
type Config struct {
	URL        string        // nats://host:4222[,nats://...]; empty starts an embedded server
	DataDir    string        // embedded server's JetStream storage directory
	Partitions int           // alert subjects: each tenant hashes to one, and one consumer owns it (default 4)
	MaxBytes   int64         // stream size limit; publishing beyond it is refused (back-pressure); default 4 GiB
	Replicas   int           // stream replicas on a cluster (default 1)
	AckWait    time.Duration // redelivery after this long without an ack (default 60 s)
	Logger     *slog.Logger
}

// Bus is a connection to JetStream, with the embedded server if it started one.
type Bus struct {
	cfg      Config
	ns       *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	log      *slog.Logger
	maxMsg   int
	streamID string // the alert stream's name and creation time, which together identify its sequence numbers
	mu       sync.Mutex
	stopped  bool
}

var _ socbot.AlertSink = (*Bus)(nil)

// Open starts the embedded server (when cfg.URL is empty) or connects to cfg.URL, and creates or
// updates the alert stream.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	const op = "natsbus.Open"
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 4 << 30
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bus{cfg: cfg, log: cfg.Logger}
	var err error
	if cfg.URL == "" {
		dir := filepath.Join(cfg.DataDir, "jetstream")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, socbot.E(op, socbot.KindUnavailable, err)
		}
		opts := &server.Options{
			ServerName:         "socbot-embedded",
			DontListen:         true,
			JetStream:          true,
			StoreDir:           dir,
			MaxPayload:         maxEmbeddedMsg,
			JetStreamMaxStore:  cfg.MaxBytes * 2,
			JetStreamMaxMemory: 256 << 20,
			NoSigs:             true,
			NoLog:              true,
		}
		if b.ns, err = server.NewServer(opts); err != nil {
			return nil, socbot.E(op, socbot.KindUnavailable, "embedded NATS", err)
		}
		go b.ns.Start()
		if !b.ns.ReadyForConnections(30 * time.Second) {
			b.ns.Shutdown()
			return nil, socbot.E(op, socbot.KindUnavailable, "embedded NATS did not start")
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.ns), nats.Name("socbot"), nats.MaxReconnects(-1))
	} else {
		b.nc, err = nats.Connect(cfg.URL, nats.Name("socbot"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	}
	if err != nil {
		b.Close()
		return nil, socbot.E(op, socbot.KindUnavailable, "connect to NATS", err)
	}
	b.maxMsg = int(b.nc.MaxPayload())
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.Close()
		return nil, socbot.E(op, socbot.KindUnavailable, err)
	}
	stream, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        AlertStream,
		Description: "alerts accepted by ingest, waiting for triage",
		Subjects:    []string{alertSubject + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxBytes:    cfg.MaxBytes,
		Discard:     jetstream.DiscardNew,
		Duplicates:  2 * time.Minute,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		b.Close()
		return nil, socbot.E(op, socbot.KindUnavailable, "create stream "+AlertStream, err)
	}
	// A stream's sequence numbers start again at 1 when the stream is recreated (a wiped JetStream
	// directory, a new cluster): naming it with its creation time keeps the database's record of
	// processed messages from mistaking new messages for old ones.
	b.streamID = fmt.Sprintf("%s@%d", AlertStream, stream.CachedInfo().Created.UnixNano())
	return b, nil
}

// Embedded reports whether the bus runs its own in-process server.
func (b *Bus) Embedded() bool { return b.ns != nil }

// Conn returns the NATS connection, for other bots' subjects.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream returns the JetStream context, for other bots' streams.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	b.stopped = true
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}

// Partition returns the partition a tenant's alerts go to.
func (b *Bus) Partition(tenantID string) int {
	h := fnv.New32a()
	h.Write([]byte(tenantID))
	return int(h.Sum32() % uint32(b.cfg.Partitions))
}

// Submit publishes a tenant's alerts and returns once JetStream has stored them. Large batches are
// split to fit the server's maximum message size; each part carries a message id so that a publish
// retried after a lost acknowledgement is not stored twice.
func (b *Bus) Submit(ctx context.Context, tenantID string, alerts []socbot.Alert) error {
	const op = "natsbus.Submit"
	if len(alerts) == 0 {
		return nil
	}
	subject := fmt.Sprintf("%s%d", alertSubject, b.Partition(tenantID))
	limit := b.maxMsg - 4096
	var futures []jetstream.PubAckFuture
	for start := 0; start < len(alerts); {
		buf := EncodeAlerts(nil, alerts[start:])
		end := len(alerts)
		for len(buf) > limit && end-start > 1 {
			end = start + (end-start)/2
			buf = EncodeAlerts(buf[:0], alerts[start:end])
		}
		if len(buf) > limit {
			return socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("alert %s is larger than the bus's %d-byte message limit", alerts[start].UID, limit))
		}
		msg := &nats.Msg{Subject: subject, Data: buf, Header: nats.Header{}}
		msg.Header.Set(tenantHeader, tenantID)
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(alerts[start].UID))
		if err != nil {
			return socbot.E(op, socbot.KindUnavailable, err)
		}
		futures = append(futures, f)
		start = end
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
				return socbot.E(op, socbot.KindTooLarge, err)
			}
			// Anything else (stream full, no quorum, timeout) clears up on its own: retry later.
			return socbot.E(op, socbot.KindUnavailable, "the bus did not store the alerts", err)
		case <-ctx.Done():
			return socbot.E(op, socbot.KindUnavailable, ctx.Err())
		}
	}
	return nil
}

// Pending returns the number of messages waiting in the alert stream.
func (b *Bus) Pending(ctx context.Context) (uint64, error) {
	s, err := b.js.Stream(ctx, AlertStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}
