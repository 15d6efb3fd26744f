package natsbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func sample(n int) []socbot.Alert {
	now := time.Date(2026, 11, 1, 12, 0, 0, 123000, time.UTC)
	var out []socbot.Alert
	for i := 0; i < n; i++ {
		a := socbot.Alert{UID: fmt.Sprintf("uid-%d", i), TenantID: "t1", Format: "wazuh", Vendor: "Wazuh", Title: fmt.Sprintf("alert %d", i),
			Severity: socbot.SeverityHigh, SeverityScore: 72, SeverityRaw: "12", Tactics: []string{"TA0001"}, Techniques: []string{"T1190", "T1059.001"},
			Flags: []string{socbot.FlagTimeMissing}, DetectedAt: now, ReceivedAt: now.Add(time.Second), Raw: []byte(`{"rule":{"level":12}}`)}
		a.AddObservable(socbot.ObsIP, "203.0.113.9", socbot.AsSource)
		a.AddObservable(socbot.ObsHost, "web-01", socbot.AsTarget)
		out = append(out, a)
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	in := sample(3)
	in[1].Raw = nil
	in[2].Observables = nil
	out, err := DecodeAlerts(EncodeAlerts(nil, in), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the alerts:\n in: %+v\nout: %+v", in, out)
	}
	if _, err := DecodeAlerts(EncodeAlerts(nil, in)[:40], "t1"); err == nil {
		t.Fatal("truncated batch decoded without error")
	}
	if _, err := DecodeAlerts([]byte("{}"), "t1"); err == nil {
		t.Fatal("JSON decoded as a batch")
	}
}

func FuzzDecodeAlerts(f *testing.F) {
	f.Add(EncodeAlerts(nil, sample(2)))
	f.Add(EncodeAlerts(nil, nil))
	f.Add([]byte("SB\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		alerts, err := DecodeAlerts(b, "t")
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		if re := EncodeAlerts(nil, alerts); !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func openBus(t *testing.T, dir string) *Bus {
	t.Helper()
	b, err := Open(context.Background(), Config{DataDir: dir, Partitions: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type collector struct {
	mu   sync.Mutex
	seen []string // uid per alert, in handling order
	fail int      // fail this many calls first
	got  chan struct{}
}

func (c *collector) handle(_ context.Context, batches []socbot.AlertBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return errors.New("database down")
	}
	for _, b := range batches {
		for _, a := range b.Alerts {
			if a.TenantID != b.TenantID {
				panic("tenant not carried")
			}
			c.seen = append(c.seen, a.UID)
		}
	}
	select {
	case c.got <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.seen) >= n {
			out := append([]string(nil), c.seen...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.got:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("only %d of %d alerts consumed", len(c.seen), n)
		}
	}
}

func TestSubmitConsumeInOrderAndRetry(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 5; i++ {
		batch := sample(10)
		for j := range batch {
			batch[j].UID = fmt.Sprintf("m%d-a%d", i, j)
		}
		if err := b.Submit(ctx, "tenant-x", batch); err != nil {
			t.Fatal(err)
		}
	}
	c := &collector{fail: 2, got: make(chan struct{}, 1)}
	go b.ConsumeAlerts(ctx, ConsumeOptions{Name: "test"}, c.handle)
	seen := c.waitFor(t, 50)
	if len(seen) != 50 {
		t.Fatalf("consumed %d, want 50 (failed calls must not ack)", len(seen))
	}
	for i := 0; i < 5; i++ {
		for j := 0; j < 10; j++ {
			if want := fmt.Sprintf("m%d-a%d", i, j); seen[i*10+j] != want {
				t.Fatalf("position %d: got %s want %s (order lost)", i*10+j, seen[i*10+j], want)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n, _ := b.Pending(ctx); n != 0 {
		t.Fatalf("%d messages left in the work queue after acks", n)
	}
}

// A consumer that dies without acknowledging leaves its messages in the stream; the next run gets
// them at once and in order.
func TestUnackedRedeliveredAfterRestart(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, dir)
	ctx := context.Background()
	batch := sample(4)
	if err := b.Submit(ctx, "tenant-y", batch); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	took := make(chan struct{})
	go b.ConsumeAlerts(cctx, ConsumeOptions{Name: "test"}, func(ctx context.Context, _ []socbot.AlertBatch) error {
		close(took)
		<-ctx.Done() // "crash" before the commit
		return ctx.Err()
	})
	<-took
	cancel()
	b.Close()

	b2 := openBus(t, dir)
	defer b2.Close()
	c := &collector{got: make(chan struct{}, 1)}
	start := time.Now()
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	go b2.ConsumeAlerts(ctx2, ConsumeOptions{Name: "test"}, c.handle)
	seen := c.waitFor(t, 4)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("redelivery waited for the ack timeout (%v)", d)
	}
	if seen[0] != "uid-0" || len(seen) != 4 {
		t.Fatalf("redelivered %v", seen)
	}
}

func TestSplitLargeBatch(t *testing.T) {
	b := openBus(t, t.TempDir())
	defer b.Close()
	b.maxMsg = 64 << 10 // pretend the server limit is small
	batch := sample(400)
	for i := range batch {
		batch[i].Raw = bytes.Repeat([]byte("x"), 1000)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Submit(ctx, "t", batch); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Pending(ctx); n < 6 {
		t.Fatalf("400 KB went out as %d messages; want it split under the 64 KB limit", n)
	}
	c := &collector{got: make(chan struct{}, 1)}
	go b.ConsumeAlerts(ctx, ConsumeOptions{Name: "test"}, c.handle)
	c.waitFor(t, 400)
	huge := sample(1)
	huge[0].Raw = bytes.Repeat([]byte("x"), 100<<10)
	if err := b.Submit(ctx, "t", huge); !socbot.IsKind(err, socbot.KindTooLarge) {
		t.Fatalf("an alert over the message limit: got %v, want too_large", err)
	}
}

// Two nodes on one NATS cluster: each partition is owned by one of them at a time, so a tenant's
// alerts are never split between nodes.
func TestPartitionsPinnedAcrossNodes(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer ns.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var nodes []*Bus
	var seen [2]*collector
	for i := 0; i < 2; i++ {
		b, err := Open(ctx, Config{URL: ns.ClientURL(), Partitions: 4, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		nodes = append(nodes, b)
		seen[i] = &collector{got: make(chan struct{}, 1)}
		go b.ConsumeAlerts(ctx, ConsumeOptions{Name: "pin", MaxMessages: 1}, seen[i].handle)
	}
	time.Sleep(300 * time.Millisecond)
	tenants := []string{"t-a", "t-b", "t-c", "t-d", "t-e", "t-f", "t-g", "t-h"}
	for round := 0; round < 5; round++ {
		for _, tn := range tenants {
			batch := sample(3)
			for j := range batch {
				batch[j].UID = fmt.Sprintf("%s-%d-%d", tn, round, j)
			}
			if err := nodes[round%2].Submit(ctx, tn, batch); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // let both nodes pull between rounds
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		seen[0].mu.Lock()
		seen[1].mu.Lock()
		n := len(seen[0].seen) + len(seen[1].seen)
		seen[1].mu.Unlock()
		seen[0].mu.Unlock()
		if n == 5*len(tenants)*3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	owner := map[string]int{}
	for i, c := range seen {
		c.mu.Lock()
		for _, uid := range c.seen {
			tn := uid[:3]
			if o, ok := owner[tn]; ok && o != i {
				t.Fatalf("tenant %s was handled by both nodes", tn)
			}
			owner[tn] = i
		}
		c.mu.Unlock()
	}
	if len(owner) != len(tenants) {
		t.Fatalf("only %d of %d tenants' alerts consumed", len(owner), len(tenants))
	}
}

// A stream recreated from scratch starts its sequences again; its identity must differ, so that a
// database that remembers processed messages does not skip the new ones.
func TestRecreatedStreamHasNewIdentity(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, dir)
	first := b.streamID
	b.Close()
	b = openBus(t, dir)
	if b.streamID != first {
		t.Fatalf("same stream, new identity: %s vs %s", first, b.streamID)
	}
	b.Close()
	if err := os.RemoveAll(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatal(err)
	}
	b = openBus(t, dir)
	defer b.Close()
	if b.streamID == first {
		t.Fatalf("recreated stream kept the identity %s", first)
	}
}
