package natsbus

import (
	"encoding/binary"
	"errors"
	"time"

	socbot "github.com/socbot/socbot"
)

// The wire format of an alert batch message: a magic and version, the number of alerts, then each
// alert's ingest-time fields. Strings and byte slices are length-prefixed (uvarint), integers are
// varints, times are microseconds since the epoch. It is several times cheaper than JSON both ways,
// and a decoder that meets anything malformed returns an error instead of panicking.

const (
	magic0, magic1 = 'S', 'B'
	codecVersion   = 1
	maxItems       = 1 << 20 // bound on any count read from the wire
)

var errCorrupt = errors.New("natsbus: corrupt alert batch")

// EncodeAlerts appends the wire form of alerts to dst.
func EncodeAlerts(dst []byte, alerts []socbot.Alert) []byte {
	dst = append(dst, magic0, magic1, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(alerts)))
	for i := range alerts {
		a := &alerts[i]
		for _, s := range [...]string{a.UID, a.Format, a.Vendor, a.Product, a.SourceID, a.RuleID, a.RuleName, a.Title, a.Description, a.Category, a.SeverityRaw} {
			dst = appendString(dst, s)
		}
		dst = binary.AppendUvarint(dst, uint64(a.Severity))
		dst = binary.AppendVarint(dst, int64(a.SeverityScore))
		dst = appendStrings(dst, a.Tactics)
		dst = appendStrings(dst, a.Techniques)
		dst = appendStrings(dst, a.Flags)
		dst = binary.AppendUvarint(dst, uint64(len(a.Observables)))
		for _, o := range a.Observables {
			dst = appendString(dst, string(o.Type))
			dst = appendString(dst, o.Value)
			dst = appendString(dst, string(o.Role))
		}
		dst = binary.AppendVarint(dst, a.DetectedAt.UnixMicro())
		dst = binary.AppendVarint(dst, a.ReceivedAt.UnixMicro())
		dst = binary.AppendUvarint(dst, uint64(len(a.Raw)))
		dst = append(dst, a.Raw...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) count() int {
	n := r.uvarint()
	if n > maxItems || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

// DecodeAlerts reads a batch written by EncodeAlerts. Raw slices are copied out of b.
func DecodeAlerts(b []byte, tenantID string) ([]socbot.Alert, error) {
	if len(b) < 3 || b[0] != magic0 || b[1] != magic1 {
		return nil, errCorrupt
	}
	if b[2] != codecVersion {
		return nil, errors.New("natsbus: unknown alert batch version")
	}
	r := &reader{b: b[3:]}
	n := r.count()
	alerts := make([]socbot.Alert, n)
	for i := 0; i < n && r.err == nil; i++ {
		a := &alerts[i]
		a.TenantID = tenantID
		for _, p := range [...]*string{&a.UID, &a.Format, &a.Vendor, &a.Product, &a.SourceID, &a.RuleID, &a.RuleName, &a.Title, &a.Description, &a.Category, &a.SeverityRaw} {
			*p = r.string()
		}
		a.Severity = socbot.Severity(r.uvarint())
		a.SeverityScore = int(r.varint())
		a.Tactics = r.strings()
		a.Techniques = r.strings()
		a.Flags = r.strings()
		if no := r.count(); no > 0 {
			a.Observables = make([]socbot.Observable, no)
			for j := range a.Observables {
				a.Observables[j] = socbot.Observable{Type: socbot.ObservableType(r.string()), Value: r.string(), Role: socbot.ObsRole(r.string())}
			}
		}
		a.DetectedAt = time.UnixMicro(r.varint()).UTC()
		a.ReceivedAt = time.UnixMicro(r.varint()).UTC()
		if raw := r.bytes(); len(raw) > 0 {
			a.Raw = append([]byte(nil), raw...)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errCorrupt
	}
	return alerts, nil
}
