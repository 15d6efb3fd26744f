package monitor

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/netlog"
	"github.com/socbot/socbot/syslog"
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
	format := FormatJSON
	if f := q.Get("format"); f != "" {
		pf, ok := ParseFormat(f)
		if !ok || pf == FormatEVTX || pf == FormatZeekTSV || pf == FormatUnknown {
			writeJSON(w, http.StatusBadRequest, batchResult{Error: "format must be json, eve, zeek-json or syslog"})
			return
		}
		format = pf
	}
	var hint SourceHint
	if ls := q.Get("logsource"); ls != "" {
		parts := strings.SplitN(ls, "/", 3)
		hint.Product = strings.ToLower(parts[0])
		hint.Channel = "*"
		if len(parts) > 1 {
			hint.Channel = parts[1]
		}
		if len(parts) > 2 {
			hint.EventID = parts[2]
		}
	}
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
	wk, err := b.acquire(r.Context(), tenant, time.Duration(b.cfg.HTTPWait))
	if err != nil {
		b.mu.Lock()
		b.stats.HTTPBusy++
		b.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, batchResult{Error: "monitor busy, retry"})
		return
	}
	before := wk.p.Stats
	submittedBefore := b.submitted.Load()
	source := "http:" + tenant
	check := func() error { return r.Context().Err() }
	stop := func(err error) error {
		if err != nil {
			return errStop{err}
		}
		return nil
	}
	opts := ScanOptions{Hint: hint, Clock: b.clock}
	switch format {
	case FormatSyslog, FormatEve, FormatZeekJSON:
		err = scanStream(r.Context(), wk.p, in, format, source, opts, check, stop)
	default:
		err = SplitJSONStream(in, MaxEvent, func(ev []byte) error {
			return stop(wk.p.ProcessJSON(ev, source, hint))
		}, func() { wk.p.Stats.Malformed++ })
	}
	res := batchResult{Accepted: wk.p.Stats.Events - before.Events, Malformed: wk.p.Stats.Malformed - before.Malformed}
	rerr := b.release(wk)
	res.Alerts = b.submitted.Load() - submittedBefore
	b.mu.Lock()
	b.stats.HTTPBatches++
	b.mu.Unlock()
	var tooBig *http.MaxBytesError
	var stopErr errStop
	switch {
	case errors.As(err, &tooBig) || errors.Is(err, errTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, batchResult{Error: "body over " + strconv.FormatInt(b.cfg.HTTPMaxBody, 10) + " bytes", Accepted: res.Accepted})
	case errors.As(err, &stopErr) || rerr != nil:
		res.Error = "alerts could not be submitted; retry the batch"
		writeJSON(w, http.StatusBadGateway, res)
	case err != nil:
		res.Error = err.Error()
		writeJSON(w, http.StatusBadRequest, res)
	default:
		writeJSON(w, http.StatusOK, res)
	}
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

var (
	_ = netlog.MaxLine
	_ = syslog.MaxMessage
	_ = socbot.KindInvalid
)
