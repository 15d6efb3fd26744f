package monitor

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// HTTPHandler returns the handler for JSON log batches. Mount it (POST) behind the API's
// authentication; the tenant is taken from the request context by TenantFunc if set, else from the
// X-Socbot-Tenant header (Config.TenantHeader).
//
// Body: JSON Lines, a JSON array of objects, or concatenated objects (gzip accepted with
// Content-Encoding: gzip); with ?format=syslog, one syslog line per line. Query parameters:
// format (json, eve, zeek-json, syslog; default json) and logsource (product[/channel[/event-id]])
// for events whose shape does not say where they come from.
//
// The events are matched before the response is written and every resulting alert is durable in
// the sink by then (200 with counts). 400: bad request, 413: body too large, 503: all processors
// busy (Retry-After is set), 502: the sink failed.
func (b *Bot) HTTPHandler() http.Handler {
	return http.HandlerFunc(b.serveHTTP)
}

type batchResult struct {
	Accepted  int64  `json:"accepted"`
	Malformed int64  `json:"malformed"`
	Alerts    int64  `json:"alerts"`
	Error     string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (b *Bot) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, batchResult{Error: "POST a batch of JSON log events"})
		return
	}
	tenant := ""
	if b.TenantFunc != nil {
		t, err := b.TenantFunc(r)
		if err != nil {
			writeJSON(w, http.StatusUnauthorized, batchResult{Error: err.Error()})
			return
		}
		tenant = t
	} else {
		tenant = r.Header.Get(b.cfg.TenantHeader)
	}
	if tenant == "" {
		writeJSON(w, http.StatusBadRequest, batchResult{Error: "no tenant (header " + b.cfg.TenantHeader + ")"})
		return
	}
	q := r.URL.Query()
	body := http.MaxBytesReader(w, r.Body, b.cfg.HTTPMaxBody)
	var in io.Reader = body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, batchResult{Error: "bad gzip body"})
			return
		}
		defer gz.Close()
		in = &limitedReader{r: gz, left: b.cfg.HTTPMaxBody * 4}
	}
	res, err := b.IngestLogs(r.Context(), tenant, socbot.LogBatch{Format: q.Get("format"), Logsource: q.Get("logsource"), Source: "http:" + tenant, Body: in})
	out := batchResult{Accepted: res.Accepted, Malformed: res.Malformed, Alerts: res.Alerts}
	if err == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Error = err.Error()
	switch socbot.ErrorKind(err) {
	case socbot.KindTooLarge:
		out.Error = "body over " + strconv.FormatInt(b.cfg.HTTPMaxBody, 10) + " bytes"
		writeJSON(w, http.StatusRequestEntityTooLarge, out)
	case socbot.KindUnavailable:
		if errors.Is(err, errBusy) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, out)
			return
		}
		writeJSON(w, http.StatusBadGateway, out)
	default:
		writeJSON(w, http.StatusBadRequest, out)
	}
}

var errBusy = errors.New("all processors busy")

// parseLogsource reads product[/channel[/event-id]].
func parseLogsource(ls string) SourceHint {
	var hint SourceHint
	if ls == "" {
		return hint
	}
	parts := strings.SplitN(ls, "/", 3)
	hint.Product = strings.ToLower(parts[0])
	hint.Channel = "*"
	if len(parts) > 1 {
		hint.Channel = parts[1]
	}
	if len(parts) > 2 {
		hint.EventID = parts[2]
	}
	return hint
}

var _ socbot.LogIngester = (*Bot)(nil)

// IngestLogs matches a batch of log events for a tenant (socbot.LogIngester): it waits at most
// Config.HTTPWait for a free processor (KindUnavailable wrapping errBusy after that), reads the body as
// a stream and returns once every alert is in the sink. A sink failure is KindUnavailable too (retry
// the batch: the alerts of a retried batch join their earlier alerts' groups in triage); a body that
// stops with a size error is KindTooLarge; an unknown format or a broken body is KindInvalid.
func (b *Bot) IngestLogs(ctx context.Context, tenant string, batch socbot.LogBatch) (socbot.LogBatchResult, error) {
	const op = "monitor.IngestLogs"
	var res socbot.LogBatchResult
	if tenant == "" {
		return res, socbot.FieldError(op, "tenant", "no tenant")
	}
	format := FormatJSON
	if batch.Format != "" {
		pf, ok := ParseFormat(batch.Format)
		if !ok || pf == FormatEVTX || pf == FormatZeekTSV || pf == FormatUnknown {
			return res, socbot.FieldError(op, "format", "format must be json, eve, zeek-json or syslog, not %q", batch.Format)
		}
		format = pf
	}
	hint := parseLogsource(batch.Logsource)
	if batch.Logsource != "" && hint.Product == "" {
		return res, socbot.FieldError(op, "logsource", "logsource is product[/channel[/event-id]]")
	}
	if batch.Body == nil {
		return res, socbot.FieldError(op, "body", "no body")
	}
	source := batch.Source
	if source == "" {
		source = "http:" + tenant
	}
	wk, err := b.acquire(ctx, tenant, time.Duration(b.cfg.HTTPWait))
	if err != nil {
		b.mu.Lock()
		b.stats.HTTPBusy++
		b.mu.Unlock()
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, socbot.E(op, socbot.KindUnavailable, "monitor busy, retry", errBusy)
	}
	before := wk.p.Stats
	sentBefore := wk.sent
	check := func() error { return ctx.Err() }
	stop := func(err error) error {
		if err != nil {
			return errStop{err}
		}
		return nil
	}
	switch format {
	case FormatSyslog, FormatEve, FormatZeekJSON:
		err = scanStream(ctx, wk.p, batch.Body, format, source, ScanOptions{Hint: hint, Clock: b.clock}, check, stop)
	default:
		err = SplitJSONStream(batch.Body, MaxEvent, func(ev []byte) error {
			if e := check(); e != nil {
				return e
			}
			return stop(wk.p.ProcessJSON(ev, source, hint))
		}, func() { wk.p.Stats.Malformed++ })
	}
	res.Accepted, res.Malformed = wk.p.Stats.Events-before.Events, wk.p.Stats.Malformed-before.Malformed
	ferr := wk.flush()
	res.Alerts = wk.sent - sentBefore
	b.release(wk)
	b.mu.Lock()
	b.stats.HTTPBatches++
	b.mu.Unlock()
	var tooBig *http.MaxBytesError
	var stopErr errStop
	switch {
	case errors.As(err, &stopErr) || ferr != nil:
		cause := ferr
		if cause == nil {
			cause = stopErr.err
		}
		return res, socbot.E(op, socbot.KindUnavailable, "alerts could not be submitted; retry the batch", cause)
	case errors.As(err, &tooBig) || errors.Is(err, errTooLarge):
		return res, socbot.E(op, socbot.KindTooLarge, "body too large", err)
	case err != nil && ctx.Err() != nil:
		return res, ctx.Err()
	case err != nil:
		return res, socbot.E(op, socbot.KindInvalid, "reading the body", err)
	}
	return res, nil
}

var errTooLarge = errors.New("decompressed body too large")

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
