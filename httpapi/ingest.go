package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/normalize"
)

// IngestResponse is the answer to POST /api/v1/alerts.
type IngestResponse struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

// Rejection says which record was refused and why, naming the field.
type Rejection struct {
	Index int    `json:"index"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// maxRejections bounds the rejections listed in one answer; the count is still exact.
const maxRejections = 1000

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ingest accepts alerts: one JSON object, a JSON array or NDJSON, optionally gzip-compressed, in any
// supported format (auto-detected per record or named with ?format=). Good records are published to the
// bus and the answer comes only once the bus has stored them; bad records are listed with their index
// and the field at fault. If no record is good the answer is 400 and nothing is published.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.ingest"
	code := http.StatusAccepted
	defer func() { s.Metrics.IngestRequests.WithLabelValues(fmt.Sprint(code)).Inc() }()
	fail := func(err error) {
		code = status(socbot.ErrorKind(err))
		writeError(w, r, s.Logger, err)
	}
	tenant, err := s.tenantOf(r, true)
	if err != nil {
		fail(err)
		return
	}
	var norm normalize.Normalizer
	format := r.URL.Query().Get("format")
	if name := r.URL.Query().Get("mapping"); name != "" {
		n, ok := s.generics[name]
		if !ok {
			fail(socbot.FieldError(op, "mapping", "no field mapping named %q is configured", name))
			return
		}
		norm = n
	} else if format != "" {
		n, ok := normalize.Lookup(format)
		if !ok {
			fail(socbot.FieldError(op, "format", "unknown format %q (known: %s)", format, strings.Join(normalize.Formats(), ", ")))
			return
		}
		norm = n
	}

	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<20 {
			bodies.Put(buf)
		}
	}()
	var body io.Reader = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			fail(socbot.E(op, socbot.KindInvalid, "body is not valid gzip", err))
			return
		}
		defer zr.Close()
		body = io.LimitReader(zr, s.cfg.MaxDecodedBytes+1)
	default:
		fail(socbot.E(op, socbot.KindUnsupported, fmt.Sprintf("Content-Encoding %q is not supported (use gzip or none)", enc)))
		return
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("request body over %d bytes", s.cfg.MaxBodyBytes)))
			return
		}
		fail(socbot.E(op, socbot.KindInvalid, "reading the body", err))
		return
	}
	if int64(buf.Len()) > s.cfg.MaxDecodedBytes {
		fail(socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("decompressed body over %d bytes", s.cfg.MaxDecodedBytes)))
		return
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		fail(socbot.E(op, socbot.KindInvalid, "empty body: send a JSON object, a JSON array or NDJSON"))
		return
	}

	now := s.Clock.Now()
	resp := IngestResponse{Rejected: []Rejection{}}
	rejected := 0
	reject := func(i int, err error) {
		rejected++
		if len(resp.Rejected) < maxRejections {
			resp.Rejected = append(resp.Rejected, Rejection{Index: i, Field: socbot.ErrorField(err), Error: fmt.Sprintf("record %d: %s", i, messageOf(err))})
		}
	}
	alerts := make([]socbot.Alert, 0, 64)
	errTooMany := errors.New("too many")
	err = normalize.Records(buf.Bytes(), func(i int, rec []byte, err error) error {
		if err != nil {
			reject(i, err)
			return nil
		}
		out, err := normalize.NormalizeWith(norm, rec, now)
		if err != nil {
			reject(i, err)
			return nil
		}
		for j := range out {
			out[j].UID = socbot.NewID()
			out[j].TenantID = tenant
			out[j].ReceivedAt = now
		}
		alerts = append(alerts, out...)
		if len(alerts) > s.cfg.MaxAlerts {
			return errTooMany
		}
		return nil
	})
	if errors.Is(err, errTooMany) {
		fail(socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("more than %d alerts in one request; split it", s.cfg.MaxAlerts)))
		return
	}
	s.Metrics.IngestAlerts.WithLabelValues("rejected").Add(float64(rejected))
	if len(alerts) == 0 {
		// Records that were understood but hold nothing to triage (an empty API page, a passed
		// compliance check) are accepted as zero alerts; a body of only bad records is refused.
		if rejected > 0 {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, resp)
		return
	}
	if err := s.Sink.Submit(r.Context(), tenant, alerts); err != nil {
		fail(err)
		return
	}
	resp.Accepted = len(alerts)
	s.Metrics.IngestAlerts.WithLabelValues("accepted").Add(float64(len(alerts)))
	writeJSON(w, code, resp)
}
