package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	awsfake "github.com/socbot/socbot/connectors/awsnfw/fake"
	waffake "github.com/socbot/socbot/connectors/awswaf/fake"
	"github.com/socbot/socbot/connectors/fakes"
	"github.com/socbot/socbot/connectors/faults"
	mcfake "github.com/socbot/socbot/connectors/mimecast/fake"
	umbfake "github.com/socbot/socbot/connectors/umbrella/fake"
)

// A fleet of vendor fakes for the containment benchmark's fault mode and the kill -9 test: every
// vendor's fake server (connectors/fakes) served over loopback HTTP in this process, configured as
// connector instances of one tenant through the API, with the requests to send to each and a tally
// of the ledger against what each fake holds.

// fleet is every vendor fake, served.
type fleet struct {
	targets []*fakes.Target
	servers []*httptest.Server
	perType int
}

// newFleet starts every vendor fake, each seeded for perType distinct requests. A 429 asks for
// retryAfter in the vendor's own signal.
// Every call is answered latency after the fake acted (a vendor's round trip), so that work is in flight.
func newFleet(perType int, retryAfter, latency time.Duration) (*fleet, error) {
	f := &fleet{perType: perType}
	for _, typ := range fakes.Types() {
		tg, err := fakes.Build(typ, fakes.Options{N: perType, RetryAfter: retryAfter})
		if err != nil {
			f.Close()
			return nil, err
		}
		f.targets = append(f.targets, tg)
		var h http.Handler = tg.Fake
		if latency > 0 {
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The vendor acts at once and answers later: a client that dies in between leaves
				// an effect it never heard of (what the in-doubt handling is for).
				rec := httptest.NewRecorder()
				tg.Fake.ServeHTTP(rec, r)
				select {
				case <-time.After(latency):
				case <-r.Context().Done():
					return
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
			})
		}
		f.servers = append(f.servers, httptest.NewServer(h))
	}
	return f, nil
}

// Close stops the fake servers.
func (f *fleet) Close() {
	for _, s := range f.servers {
		s.CloseClientConnections()
		s.Close()
	}
}

// SetFaults makes rate of every fake's calls fail, a third each 429 (with the vendor's delay), 5xx
// and a hang until the caller gives up.
func (f *fleet) SetFaults(rate float64, seed int64) {
	for i, tg := range f.targets {
		tg.Fake.Faults().Set(faults.Faults{Rate429: rate / 3, Rate5xx: rate / 3, RateHang: rate / 3, Seed: seed + int64(i), HangFor: 10 * time.Second})
	}
}

// Injected counts the faults served so far by kind.
func (f *fleet) Injected() map[string]int {
	out := map[string]int{}
	for _, tg := range f.targets {
		for _, k := range []faults.Kind{faults.TooMany, faults.Server, faults.Hang} {
			if n := tg.Fake.Faults().Count(k); n > 0 {
				out[k.String()] += n
			}
		}
	}
	return out
}

// fleetRequest is one action the fleet expects: which connector, what.
type fleetRequest struct {
	Connector string
	Kind      socbot.ActionKind
	Value     string
}

// Requests lists perType distinct requests per connector, interleaved across connectors.
func (f *fleet) Requests() []fleetRequest {
	var out []fleetRequest
	for i := 0; i < f.perType; i++ {
		for _, tg := range f.targets {
			r := tg.Request(i)
			out = append(out, fleetRequest{Connector: tg.Type, Kind: r.Kind, Value: r.Value})
		}
	}
	return out
}

// Configure creates one connector instance per fake for the tenant through the API (credentials
// included: they are sealed by the server). timeout bounds each vendor HTTP call.
func (f *fleet) Configure(ctx context.Context, url, adminToken, tenant string, timeout time.Duration) error {
	for i, tg := range f.targets {
		cfg := tg.Config(f.servers[i].URL)
		body := map[string]any{"id": tg.Type, "type": cfg.Type, "base_url": cfg.BaseURL, "options": cfg.Options,
			"credentials": cfg.Credentials, "timeout": timeout.String(), "reason": "benchmark fleet"}
		code, raw, err := apiCall(ctx, "POST", url+"/api/v1/connectors?tenant="+tenant, adminToken, body, nil)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("configuring connector %s: HTTP %d: %s", tg.Type, code, raw)
		}
	}
	return nil
}

// Types are the connector ids (one per vendor type).
func (f *fleet) Types() []string {
	var out []string
	for _, tg := range f.targets {
		out = append(out, tg.Type)
	}
	return out
}

func (f *fleet) target(connector string) *fakes.Target {
	for _, tg := range f.targets {
		if tg.Type == connector {
			return tg
		}
	}
	return nil
}

// Blocked reports whether the fake of connector holds the block.
func (f *fleet) Blocked(connector string, kind socbot.ActionKind, value string) bool {
	tg := f.target(connector)
	return tg != nil && tg.Fake.Blocked(kind, value)
}

// Copies counts how many times the fake holds the same effect, where its state can hold one twice
// (Mimecast policies, Umbrella destinations, the AWS lists); the other fakes keep sets, where a
// second add cannot show, so they report 1 for a held block.
func (f *fleet) Copies(connector string, kind socbot.ActionKind, value string) int {
	tg := f.target(connector)
	if tg == nil {
		return 0
	}
	count := func(list []string, v string) int {
		n := 0
		for _, x := range list {
			if strings.EqualFold(strings.TrimPrefix(strings.TrimSuffix(x, "/32"), "."), v) { // AWS domain lists may hold ".example"
				n++
			}
		}
		return n
	}
	switch fk := tg.Fake.(type) {
	case *mcfake.Server:
		if kind == socbot.ActBlockSender {
			return fk.PolicyCount(value)
		}
	case *umbfake.Server:
		return fk.Count(value)
	case *awsfake.Server:
		if kind == socbot.ActBlockDomain {
			return count(fk.Targets("soc-deny-domains"), value)
		}
	case *waffake.Server:
		if ids := tg.Config("").Options["ipset_id"]; ids != "" {
			return count(fk.Addresses(ids), value)
		}
	}
	if tg.Fake.Blocked(kind, value) {
		return 1
	}
	return 0
}

// fleetTally is the ledger checked against the fakes.
type fleetTally struct {
	Actions, Applied, Failed, Unsettled, Lost, DoubleApplied int
	FailReasons                                              map[string]int
	LostBy                                                   map[string]int // connector -> lost
}

// Tally checks every expected request: one action per request in the ledger, applied and held once
// by its fake, or failed with a reason (and then not held, unless the failure says the outcome is
// unknown).
func (f *fleet) Tally(want []fleetRequest, actions []socbot.ContainmentAction) fleetTally {
	t := fleetTally{FailReasons: map[string]int{}, LostBy: map[string]int{}}
	lost := func(r fleetRequest, why string) {
		t.Lost++
		t.LostBy[r.Connector+": "+why]++
	}
	by := map[string][]socbot.ContainmentAction{}
	for _, a := range actions {
		k := a.ConnectorID + "|" + string(a.Kind) + "|" + a.Value
		by[k] = append(by[k], a)
	}
	for _, r := range want {
		as := by[r.Connector+"|"+string(r.Kind)+"|"+strings.ToLower(r.Value)]
		if len(as) == 0 {
			as = by[r.Connector+"|"+string(r.Kind)+"|"+r.Value]
		}
		t.Actions += len(as)
		if len(as) != 1 {
			lost(r, fmt.Sprintf("%d actions", len(as))) // none, or the key was acted on more than once
			if len(as) > 1 {
				t.DoubleApplied += len(as) - 1
			}
			continue
		}
		a := as[0]
		copies := f.Copies(r.Connector, r.Kind, r.Value)
		if copies > 1 {
			t.DoubleApplied += copies - 1
		}
		switch a.State {
		case "applied":
			t.Applied++
			if copies == 0 {
				lost(r, "applied but not held")
			}
		case "failed":
			t.Failed++
			reason := a.Detail
			if i := strings.IndexByte(reason, ':'); i > 0 {
				reason = reason[:i]
			}
			t.FailReasons[reason]++
			if a.Detail == "" || (copies > 0 && !strings.Contains(a.Detail, "outcome unknown")) {
				lost(r, "failed but held")
			}
		default:
			t.Unsettled++
			lost(r, "ended "+a.State)
		}
	}
	return t
}

// apiCall sends one JSON request with a bearer token and decodes the answer into out (when given).
func apiCall(ctx context.Context, method, url, token string, body, out any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// ledger reads the tenant's whole ledger through the API.
func ledger(ctx context.Context, url, token string) ([]socbot.ContainmentAction, error) {
	var list struct {
		Actions []socbot.ContainmentAction `json:"actions"`
	}
	code, raw, err := apiCall(ctx, "GET", url+"/api/v1/actions?limit=10000", token, nil, &list)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("listing actions: HTTP %d: %s", code, raw)
	}
	return list.Actions, nil
}
