package intel

import (
	"context"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/ioc"
)

// ContainmentSubject is the bus subject prefix of containment hand-offs: the intel bot publishes
// each ContainmentEvent (JSON) on ContainmentSubject + "." + tenant id ("_mssp" for MSSP-wide
// indicators) into the JetStream stream ContainmentStream, with DedupeKey as the Nats-Msg-Id, and
// the containment bot consumes "socbot.intel.containment.>" with a durable consumer. DedupeKey is
// stable for one indicator crossing its tenant's threshold on one day, so redeliveries and repeated
// crossings can be dropped by the consumer too.
const ContainmentSubject = "socbot.intel.containment"

// ContainmentStream is the JetStream stream that keeps hand-offs (limits retention: seven days,
// 256 MiB, duplicates within an hour dropped by message id).
const ContainmentStream = "SOCBOT_INTEL_CONTAINMENT"

// ContainmentEvent hands one indicator to containment: its score reached the tenant's threshold. The
// containment bot decides (with its approval gates) whether and where to block.
type ContainmentEvent struct {
	TenantID    string            `json:"tenant_id"` // "" for an MSSP-wide indicator: containment applies its own fan-out policy
	IndicatorID string            `json:"indicator_id"`
	Type        ioc.Type          `json:"type"`
	Value       string            `json:"value"`
	Action      socbot.ActionKind `json:"action"` // block_ip, block_domain, block_url or block_sender
	Score       int               `json:"score"`
	Threshold   int               `json:"threshold"`
	Confidence  int               `json:"confidence"`
	TLP         TLP               `json:"tlp"`
	Sources     []string          `json:"sources"`
	Tags        []string          `json:"tags,omitempty"`
	Reason      string            `json:"reason"`
	ValidUntil  time.Time         `json:"valid_until,omitempty"` // when the score will fall below the threshold: a natural TTL for the block
	At          time.Time         `json:"at"`
	DedupeKey   string            `json:"dedupe_key"`
}

// Subject is the bus subject of the event.
func (ev ContainmentEvent) Subject() string {
	t := ev.TenantID
	if t == "" {
		t = "_mssp"
	}
	return ContainmentSubject + "." + t
}

// ContainmentSink receives hand-offs; the lead wires a bus publisher (or the containment bot directly).
type ContainmentSink interface {
	HandOff(ctx context.Context, events []ContainmentEvent) error
}

// ContainmentAction is the blocking action for an indicator type, or "" when it cannot be blocked.
func ContainmentAction(t ioc.Type) socbot.ActionKind {
	switch t {
	case ioc.IPv4, ioc.IPv6, ioc.CIDR:
		return socbot.ActBlockIP
	case ioc.Domain:
		return socbot.ActBlockDomain
	case ioc.URL:
		return socbot.ActBlockURL
	case ioc.Email:
		return socbot.ActBlockSender
	}
	return ""
}

// expiryBelow finds when the score of in falls below threshold under d (zero if it never does).
func expiryBelow(in *Indicator, d Decay, threshold int, now time.Time) time.Time {
	m := d.Model(in.Type)
	if m.Lifetime <= 0 {
		return time.Time{}
	}
	ref := in.Reference()
	lo, hi := time.Duration(0), m.Lifetime
	for hi-lo > time.Minute {
		mid := (lo + hi) / 2
		if m.ScoreAt(in.BaseScore(), mid) >= threshold {
			lo = mid
		} else {
			hi = mid
		}
	}
	return ref.Add(hi)
}

func (e *Engine) handOff(ctx context.Context, ins []Indicator, reason string) {
	now := e.clock.Now()
	var evs []ContainmentEvent
	for i := range ins {
		in := &ins[i]
		act := ContainmentAction(in.Type)
		if act == "" {
			continue
		}
		th := e.cfg.ContainmentThreshold(in.TenantID)
		evs = append(evs, ContainmentEvent{
			TenantID: in.TenantID, IndicatorID: in.ID, Type: in.Type, Value: in.Value, Action: act,
			Score: in.Score(e.decay, now), Threshold: th, Confidence: in.Confidence, TLP: in.TLP,
			Sources: in.SourceNames(), Tags: in.Tags, Reason: reason, ValidUntil: expiryBelow(in, e.decay, th, now), At: now,
			DedupeKey: in.TenantID + "/" + in.ID + "/" + now.Format("2006-01-02"),
		})
	}
	if len(evs) == 0 {
		return
	}
	if err := e.cfg.Containment.HandOff(ctx, evs); err != nil {
		e.log.Error("intel: containment hand-off failed", "events", len(evs), "err", err)
	}
}

// MemContainment collects hand-offs in memory (tests, CLI).
type MemContainment struct{ Events []ContainmentEvent }

// HandOff implements ContainmentSink.
func (m *MemContainment) HandOff(ctx context.Context, evs []ContainmentEvent) error {
	m.Events = append(m.Events, evs...)
	return nil
}

var _ ContainmentSink = (*MemContainment)(nil)
