package httpapi

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	socbot "github.com/socbot/socbot"
)

// The monitor API: POST /logs takes a batch of log events from a tenant's shipper (JSON Lines, a
// JSON array, concatenated objects, Suricata eve.json, Zeek JSON or syslog lines) and runs the
// monitor bot's Sigma rules over it; what the rules find goes to triage as alerts through the bus.
// The tenant is the ingest token's, never a header. The body is read whole, within the API's limits,
// before any event is matched, so a 413 means nothing was matched. The answer comes once every alert
// of the batch is durable on the bus. Without Deps.Logs the route answers 503.

//go:embed openapi_monitor.json
var openapiMonitor []byte

func init() {
	routeGroups = append(routeGroups, (*Server).monitorRoutes)
	addOpenAPI(openapiMonitor)
}

func (s *Server) monitorRoutes() {
	s.handle("POST", "/logs", PermIngest, "Run the detection rules over a batch of log events (JSON, NDJSON, eve, Zeek JSON, syslog; gzip accepted)", s.postLogs)
}

func (s *Server) postLogs(w http.ResponseWriter, r *http.Request) {
	const op = "httpapi.logs"
	tenant, err := s.tenantOf(r, true)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if s.Logs == nil {
		writeError(w, r, s.Logger, socbot.E(op, socbot.KindUnavailable, "the monitor bot does not run on this node"))
		return
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
			writeError(w, r, s.Logger, socbot.E(op, socbot.KindInvalid, "body is not valid gzip", err))
			return
		}
		defer zr.Close()
		body = io.LimitReader(zr, s.cfg.MaxDecodedBytes+1)
	default:
		writeError(w, r, s.Logger, socbot.E(op, socbot.KindUnsupported, fmt.Sprintf("Content-Encoding %q is not supported (use gzip or none)", enc)))
		return
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, s.Logger, socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("request body over %d bytes", s.cfg.MaxBodyBytes)))
			return
		}
		writeError(w, r, s.Logger, socbot.E(op, socbot.KindInvalid, "reading the body", err))
		return
	}
	if int64(buf.Len()) > s.cfg.MaxDecodedBytes {
		writeError(w, r, s.Logger, socbot.E(op, socbot.KindTooLarge, fmt.Sprintf("decompressed body over %d bytes", s.cfg.MaxDecodedBytes)))
		return
	}
	q := r.URL.Query()
	res, err := s.Logs.IngestLogs(r.Context(), tenant, socbot.LogBatch{Format: q.Get("format"), Logsource: q.Get("logsource"),
		Source: "api:" + principal(r).Name, Body: bytes.NewReader(buf.Bytes())})
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
