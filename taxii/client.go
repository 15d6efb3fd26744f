package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/stix"
)

// Client is a TAXII 2.1 client. Set Username/Password for HTTP Basic or Token for a bearer token.
type Client struct {
	HTTP     *http.Client
	Username string
	Password string
	Token    string
	// MaxPages bounds one AllObjects walk (default 100,000 pages) so that a server that never stops
	// saying "more" cannot keep the client forever.
	MaxPages int
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Status int
	Body   Error
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("TAXII server answered HTTP %d", e.Status)
	if e.Body.Title != "" {
		s += ": " + e.Body.Title
	}
	if e.Body.Description != "" {
		s += " (" + e.Body.Description + ")"
	}
	return s
}

func (c *Client) do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, socbot.FieldError("taxii.Client", "url", "%v", err)
	}
	req.Header.Set("Accept", MediaType)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, socbot.E("taxii.Client", socbot.KindUnavailable, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		he := &HTTPError{Status: resp.StatusCode}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&he.Body)
		kind := socbot.KindUnavailable
		switch resp.StatusCode {
		case 401:
			kind = socbot.KindUnauthenticated
		case 403:
			kind = socbot.KindForbidden
		case 404:
			kind = socbot.KindNotFound
		case 400, 406, 415, 422:
			kind = socbot.KindInvalid
		}
		return nil, socbot.E("taxii.Client", kind, he)
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, u string, v any) (http.Header, error) {
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return nil, socbot.E("taxii.Client", socbot.KindInvalid, err, "decoding "+u)
	}
	return resp.Header, nil
}

func slash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

// Discovery reads the discovery document at u (e.g. https://host/taxii2/).
func (c *Client) Discovery(ctx context.Context, u string) (Discovery, error) {
	var d Discovery
	_, err := c.getJSON(ctx, slash(u), &d)
	return d, err
}

// APIRoot reads an API root's information.
func (c *Client) APIRoot(ctx context.Context, root string) (APIRoot, error) {
	var r APIRoot
	_, err := c.getJSON(ctx, slash(root), &r)
	return r, err
}

// Collections lists the collections of an API root.
func (c *Client) Collections(ctx context.Context, root string) ([]Collection, error) {
	var r struct {
		Collections []Collection `json:"collections"`
	}
	_, err := c.getJSON(ctx, slash(root)+"collections/", &r)
	return r.Collections, err
}

// Collection reads one collection.
func (c *Client) Collection(ctx context.Context, root, id string) (Collection, error) {
	var col Collection
	_, err := c.getJSON(ctx, slash(root)+"collections/"+url.PathEscape(id)+"/", &col)
	return col, err
}

// Status reads a status resource.
func (c *Client) Status(ctx context.Context, root, id string) (Status, error) {
	var st Status
	_, err := c.getJSON(ctx, slash(root)+"status/"+url.PathEscape(id)+"/", &st)
	return st, err
}

// Query is the filter of an objects or manifest request.
type Query struct {
	AddedAfter time.Time
	Limit      int
	Next       string
	IDs        []string
	Types      []string
	Versions   []string
}

func (q Query) encode() string {
	v := url.Values{}
	if !q.AddedAfter.IsZero() {
		v.Set("added_after", FormatTime(q.AddedAfter))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	if len(q.IDs) > 0 {
		v.Set("match[id]", strings.Join(q.IDs, ","))
	}
	if len(q.Types) > 0 {
		v.Set("match[type]", strings.Join(q.Types, ","))
	}
	if len(q.Versions) > 0 {
		v.Set("match[version]", strings.Join(q.Versions, ","))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Page is one answer of an objects request, read as a stream.
type Page struct {
	Body           io.ReadCloser
	DateAddedFirst time.Time
	DateAddedLast  time.Time
}

func objectsURL(root, coll string) string {
	return slash(root) + "collections/" + url.PathEscape(coll) + "/objects/"
}

// ObjectsPage starts one objects request; read Body as an envelope with stix.Reader (its More and
// Next are known once the objects are read) and close it.
func (c *Client) ObjectsPage(ctx context.Context, root, coll string, q Query) (*Page, error) {
	resp, err := c.do(ctx, http.MethodGet, objectsURL(root, coll)+q.encode(), nil)
	if err != nil {
		return nil, err
	}
	p := &Page{Body: resp.Body}
	p.DateAddedFirst, _ = ParseTime(resp.Header.Get(HeaderDateAddedFirst))
	p.DateAddedLast, _ = ParseTime(resp.Header.Get(HeaderDateAddedLast))
	return p, nil
}

// Objects reads one page of objects into memory.
func (c *Client) Objects(ctx context.Context, root, coll string, q Query) (Envelope, http.Header, error) {
	var env Envelope
	h, err := c.getJSON(ctx, objectsURL(root, coll)+q.encode(), &env)
	return env, h, err
}

// Manifest reads one page of a collection's manifest.
func (c *Client) Manifest(ctx context.Context, root, coll string, q Query) (Manifest, error) {
	var m Manifest
	_, err := c.getJSON(ctx, slash(root)+"collections/"+url.PathEscape(coll)+"/manifest/"+q.encode(), &m)
	return m, err
}

// AddObjects posts objects to a collection and returns the status resource.
func (c *Client) AddObjects(ctx context.Context, root, coll string, objects []json.RawMessage) (Status, error) {
	body, err := json.Marshal(map[string]any{"objects": objects})
	if err != nil {
		return Status{}, socbot.E("taxii.Client.AddObjects", socbot.KindInvalid, err)
	}
	resp, err := c.do(ctx, http.MethodPost, objectsURL(root, coll), body)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, socbot.E("taxii.Client.AddObjects", socbot.KindInvalid, err)
	}
	return st, nil
}

// Walk reads every object of a collection added after since, page by page, streaming each page's
// objects through fn (which reads them from the envelope's stix.Reader). It follows "next" while the
// server gives one; when the server says "more" without a "next", it asks again with added_after set to
// the page's X-TAXII-Date-Added-Last. It returns the date_added of the last object read: the checkpoint
// for the next walk (a client checkpoints on date_added, never on the objects' modified time).
func (c *Client) Walk(ctx context.Context, root, coll string, since time.Time, limit int, fn func(rd *stix.Reader) error) (time.Time, error) {
	q := Query{AddedAfter: since, Limit: limit}
	last := since
	max := c.MaxPages
	if max <= 0 {
		max = 100000
	}
	for page := 0; page < max; page++ {
		p, err := c.ObjectsPage(ctx, root, coll, q)
		if err != nil {
			return last, err
		}
		rd := stix.NewReader(p.Body)
		err = fn(rd)
		p.Body.Close()
		if err != nil {
			return last, err
		}
		if !p.DateAddedLast.IsZero() && p.DateAddedLast.After(last) {
			last = p.DateAddedLast
		}
		switch {
		case rd.More && rd.Next != "":
			q.Next = rd.Next
		case rd.More:
			if p.DateAddedLast.IsZero() || !p.DateAddedLast.After(q.AddedAfter) {
				return last, socbot.E("taxii.Client.Walk", socbot.KindInvalid, "server says more but gives neither next nor a newer X-TAXII-Date-Added-Last")
			}
			q.Next = ""
			q.AddedAfter = p.DateAddedLast
		default:
			return last, nil
		}
	}
	return last, socbot.E("taxii.Client.Walk", socbot.KindTooLarge, "too many pages")
}

// Collector collects a TAXII 2.1 collection for the feed scheduler (register it under the format
// "taxii"). Feed.URL is the API root URL and Feed.Options["collection"] the collection id (or the
// URL may end in /collections/<id>/); Feed.Auth gives basic or bearer credentials. The checkpoint
// (FeedStatus.Cursor) is the date_added of the last object collected.
type Collector struct {
	HTTP *http.Client
	// PageSize is the limit asked per page (default 1000).
	PageSize int
}

var _ intel.Collector = (*Collector)(nil)

// Collect implements intel.Collector.
func (tc *Collector) Collect(ctx context.Context, f intel.Feed, st *intel.FeedStatus, emit func(intel.Item) error) (bool, error) {
	root, coll := f.URL, f.Options["collection"]
	if i := strings.Index(root, "/collections/"); i >= 0 {
		coll = strings.Trim(strings.TrimSuffix(strings.TrimSuffix(root[i+len("/collections/"):], "/"), "/objects"), "/")
		root = root[:i+1]
	}
	if coll == "" {
		return false, socbot.FieldError("taxii.Collector", "options.collection", "feed %s names no collection", f.Name)
	}
	c := &Client{HTTP: tc.HTTP, Username: f.Auth.Username, Password: f.Auth.Password, Token: f.Auth.BearerToken}
	var since time.Time
	if st.Cursor != "" {
		since, _ = ParseTime(st.Cursor)
	}
	size := tc.PageSize
	if size <= 0 {
		size = 1000
	}
	n := 0
	last, err := c.Walk(ctx, root, coll, since, size, func(rd *stix.Reader) error {
		s, err := stix.ImportFrom(rd, emit)
		n += s.Objects
		return err
	})
	if err != nil {
		return false, err
	}
	if !last.IsZero() {
		st.Cursor = FormatTime(last)
	}
	return n == 0, nil
}
