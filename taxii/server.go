package taxii

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/stix"
)

// Backend is the storage behind the TAXII server. Every method gets the authenticated principal and
// decides what it may see: an API root or collection the principal may not see is KindNotFound, one it
// may see but not read or write is KindForbidden.
type Backend interface {
	// Roots lists the API roots visible to p.
	Roots(ctx context.Context, p socbot.Principal) ([]APIRoot, error)
	// Collections lists the collections of root visible to p, with CanRead and CanWrite set for p.
	Collections(ctx context.Context, p socbot.Principal, root string) ([]Collection, error)
	// Objects returns the object versions of a collection that f selects, ordered by date added
	// (then id, then version), after f.Next if set and at most f.Limit of them, and whether more follow.
	// Filtering and paging can be delegated to Select.
	Objects(ctx context.Context, p socbot.Principal, root, collection string, f Filter) (objs []Object, more bool, err error)
	// AddObjects stores objects in a collection and returns the status resource of the request.
	AddObjects(ctx context.Context, p socbot.Principal, root, collection string, objs []Object) (Status, error)
	// DeleteObject deletes the versions of object id that f selects.
	DeleteObject(ctx context.Context, p socbot.Principal, root, collection, id string, f Filter) error
	// Status returns a status resource of root.
	Status(ctx context.Context, p socbot.Principal, root, id string) (Status, error)
}

// Server serves TAXII 2.1. Mount it at Prefix (default "/taxii2/"); the principal comes from the
// request context (socbot.PrincipalFrom), set by the API's token middleware.
type Server struct {
	Backend     Backend
	Prefix      string
	Title       string
	Description string
	Contact     string
	// DefaultRoot names the API root advertised as default ("" for none).
	DefaultRoot string
	// MaxPage caps limit (default 1000).
	MaxPage int
	// MaxContentLength caps POST bodies (default 10 MB).
	MaxContentLength int64
}

var _ http.Handler = (*Server)(nil)

func (s *Server) prefix() string {
	if s.Prefix == "" {
		return "/taxii2/"
	}
	return s.Prefix
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, title, desc string) {
	writeJSON(w, status, Error{Title: title, Description: desc, HTTPStatus: strconv.Itoa(status)})
}

func errStatus(err error) int {
	switch socbot.ErrorKind(err) {
	case socbot.KindNotFound:
		return http.StatusNotFound
	case socbot.KindForbidden:
		return http.StatusForbidden
	case socbot.KindInvalid:
		return http.StatusBadRequest
	case socbot.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case socbot.KindUnauthenticated:
		return http.StatusUnauthorized
	case socbot.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// acceptable reports whether the Accept header allows the TAXII 2.1 media type.
func acceptable(h string) bool {
	if h == "" {
		return true
	}
	for _, part := range strings.Split(h, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" {
			return true
		}
		if mt == "application/taxii+json" && (params["version"] == "" || params["version"] == "2.1") {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := socbot.PrincipalFrom(r.Context())
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="TAXII", Bearer`)
		writeErr(w, http.StatusUnauthorized, "authentication required", "")
		return
	}
	if !acceptable(r.Header.Get("Accept")) {
		writeErr(w, http.StatusNotAcceptable, "not acceptable", "this server speaks "+MediaType)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(s.prefix(), "/"))
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	ctx := r.Context()
	if len(parts) == 0 {
		if r.Method != http.MethodGet {
			writeErr(w, http.StatusMethodNotAllowed, "method not allowed", "")
			return
		}
		s.discovery(w, r, p)
		return
	}
	root := parts[0]
	rest := parts[1:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		roots, err := s.Backend.Roots(ctx, p)
		if err != nil {
			writeErr(w, errStatus(err), "error", err.Error())
			return
		}
		for _, rt := range roots {
			if rt.Name == root {
				writeJSON(w, http.StatusOK, rt)
				return
			}
		}
		writeErr(w, http.StatusNotFound, "unknown API root", "")
	case len(rest) == 2 && rest[0] == "status" && r.Method == http.MethodGet:
		st, err := s.Backend.Status(ctx, p, root, rest[1])
		if err != nil {
			writeErr(w, errStatus(err), "status", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	case len(rest) == 1 && rest[0] == "collections" && r.Method == http.MethodGet:
		cs, err := s.Backend.Collections(ctx, p, root)
		if err != nil {
			writeErr(w, errStatus(err), "collections", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"collections": cs})
	case len(rest) >= 2 && rest[0] == "collections":
		s.collection(w, r, p, root, rest[1], rest[2:])
	default:
		writeErr(w, http.StatusNotFound, "not found", "")
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request, p socbot.Principal) {
	roots, err := s.Backend.Roots(r.Context(), p)
	if err != nil {
		writeErr(w, errStatus(err), "discovery", err.Error())
		return
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + strings.TrimSuffix(s.prefix(), "/") + "/"
	d := Discovery{Title: s.Title, Description: s.Description, Contact: s.Contact}
	if d.Title == "" {
		d.Title = "socbot TAXII server"
	}
	for _, rt := range roots {
		d.APIRoots = append(d.APIRoots, base+rt.Name+"/")
		if rt.Name == s.DefaultRoot {
			d.Default = base + rt.Name + "/"
		}
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) filter(r *http.Request) (Filter, error) {
	q := r.URL.Query()
	f := Filter{Next: q.Get("next"), IDs: splitList(q.Get("match[id]")), Types: splitList(q.Get("match[type]")),
		Versions: splitList(q.Get("match[version]")), SpecVersions: splitList(q.Get("match[spec_version]"))}
	if a := q.Get("added_after"); a != "" {
		t, err := ParseTime(a)
		if err != nil {
			return f, socbot.FieldError("taxii.filter", "added_after", "not a timestamp: %q", a)
		}
		f.AddedAfter = t
	}
	max := s.MaxPage
	if max <= 0 {
		max = 1000
	}
	f.Limit = max
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return f, socbot.FieldError("taxii.filter", "limit", "must be a positive integer")
		}
		f.Limit = min(n, max)
	}
	return f, nil
}

func setDateHeaders(w http.ResponseWriter, objs []Object) {
	if len(objs) == 0 {
		return
	}
	w.Header().Set(HeaderDateAddedFirst, FormatTime(objs[0].DateAdded))
	w.Header().Set(HeaderDateAddedLast, FormatTime(objs[len(objs)-1].DateAdded))
}

func nextToken(objs []Object, more bool) string {
	if !more || len(objs) == 0 {
		return ""
	}
	l := objs[len(objs)-1]
	return base64.RawURLEncoding.EncodeToString([]byte(FormatTime(l.DateAdded) + "|" + l.ID + "|" + l.Version))
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request, p socbot.Principal, root, coll string, rest []string) {
	ctx := r.Context()
	if len(rest) == 0 {
		if r.Method != http.MethodGet {
			writeErr(w, http.StatusMethodNotAllowed, "method not allowed", "")
			return
		}
		cs, err := s.Backend.Collections(ctx, p, root)
		if err != nil {
			writeErr(w, errStatus(err), "collection", err.Error())
			return
		}
		for _, c := range cs {
			if c.ID == coll || (c.Alias != "" && c.Alias == coll) {
				writeJSON(w, http.StatusOK, c)
				return
			}
		}
		writeErr(w, http.StatusNotFound, "unknown collection", "")
		return
	}
	f, err := s.filter(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad filter", err.Error())
		return
	}
	switch {
	case rest[0] == "manifest" && len(rest) == 1 && r.Method == http.MethodGet:
		objs, more, err := s.Backend.Objects(ctx, p, root, coll, f)
		if err != nil {
			writeErr(w, errStatus(err), "manifest", err.Error())
			return
		}
		m := Manifest{More: more, Next: nextToken(objs, more)}
		for _, o := range objs {
			m.Objects = append(m.Objects, ManifestRecord{ID: o.ID, DateAdded: FormatTime(o.DateAdded), Version: o.Version, MediaType: STIXMediaType})
		}
		setDateHeaders(w, objs)
		writeJSON(w, http.StatusOK, m)
	case rest[0] == "objects" && len(rest) == 1 && r.Method == http.MethodGet:
		objs, more, err := s.Backend.Objects(ctx, p, root, coll, f)
		if err != nil {
			writeErr(w, errStatus(err), "objects", err.Error())
			return
		}
		env := Envelope{More: more, Next: nextToken(objs, more)}
		for _, o := range objs {
			env.Objects = append(env.Objects, o.Raw)
		}
		setDateHeaders(w, objs)
		writeJSON(w, http.StatusOK, env)
	case rest[0] == "objects" && len(rest) == 1 && r.Method == http.MethodPost:
		s.post(w, r, p, root, coll)
	case rest[0] == "objects" && len(rest) == 2 && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		f.IDs = []string{rest[1]}
		if r.Method == http.MethodDelete {
			if err := s.Backend.DeleteObject(ctx, p, root, coll, rest[1], f); err != nil {
				writeErr(w, errStatus(err), "delete", err.Error())
				return
			}
			w.WriteHeader(http.StatusOK)
			return
		}
		objs, more, err := s.Backend.Objects(ctx, p, root, coll, f)
		if err != nil {
			writeErr(w, errStatus(err), "object", err.Error())
			return
		}
		if len(objs) == 0 {
			writeErr(w, http.StatusNotFound, "no such object", "")
			return
		}
		env := Envelope{More: more, Next: nextToken(objs, more)}
		for _, o := range objs {
			env.Objects = append(env.Objects, o.Raw)
		}
		setDateHeaders(w, objs)
		writeJSON(w, http.StatusOK, env)
	case rest[0] == "objects" && len(rest) == 3 && rest[2] == "versions" && r.Method == http.MethodGet:
		f.IDs = []string{rest[1]}
		f.Versions = []string{"all"}
		objs, more, err := s.Backend.Objects(ctx, p, root, coll, f)
		if err != nil {
			writeErr(w, errStatus(err), "versions", err.Error())
			return
		}
		if len(objs) == 0 {
			writeErr(w, http.StatusNotFound, "no such object", "")
			return
		}
		v := Versions{More: more, Next: nextToken(objs, more)}
		for _, o := range objs {
			v.Versions = append(v.Versions, o.Version)
		}
		setDateHeaders(w, objs)
		writeJSON(w, http.StatusOK, v)
	default:
		writeErr(w, http.StatusNotFound, "not found", "")
	}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, p socbot.Principal, root, coll string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/taxii+json" || (params["version"] != "" && params["version"] != "2.1") {
		writeErr(w, http.StatusUnsupportedMediaType, "unsupported media type", "send "+MediaType)
		return
	}
	max := s.MaxContentLength
	if max <= 0 {
		max = 10 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad body", err.Error())
		return
	}
	if int64(len(body)) > max {
		writeErr(w, http.StatusRequestEntityTooLarge, "too large", "max_content_length is "+strconv.FormatInt(max, 10))
		return
	}
	now := time.Now().UTC()
	rd := stix.NewReader(bytes.NewReader(body))
	var objs []Object
	for {
		var raw json.RawMessage
		err := rd.Read(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeErr(w, http.StatusBadRequest, "bad envelope", err.Error())
			return
		}
		o, err := ObjectFromRaw(raw, now)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "bad object", err.Error())
			return
		}
		objs = append(objs, o)
	}
	st, err := s.Backend.AddObjects(r.Context(), p, root, coll, objs)
	if err != nil {
		writeErr(w, errStatus(err), "add objects", err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

// ObjectFromRaw reads the identifying fields of a raw STIX object.
func ObjectFromRaw(raw json.RawMessage, added time.Time) (Object, error) {
	typ, id, ver, err := stix.DecodeObject(raw)
	if err != nil {
		return Object{}, err
	}
	var sv struct {
		SpecVersion string `json:"spec_version"`
	}
	json.Unmarshal(raw, &sv)
	if sv.SpecVersion == "" {
		sv.SpecVersion = "2.1"
	}
	if ver == "" {
		ver = FormatTime(added)
	}
	return Object{ID: id, Type: typ, Version: ver, SpecVersion: sv.SpecVersion, DateAdded: added, Raw: append(json.RawMessage(nil), raw...)}, nil
}

// Select applies a filter to object versions sorted by (DateAdded, ID, Version): the match[] filters,
// the version selection (default last), added_after, the next token and the limit.
func Select(all []Object, f Filter) ([]Object, bool, error) {
	ids := setOf(f.IDs)
	types := setOf(f.Types)
	specs := setOf(f.SpecVersions)
	sel := []Object{}
	for _, o := range all {
		if len(ids) > 0 && !ids[o.ID] || len(types) > 0 && !types[o.Type] || len(specs) > 0 && !specs[o.SpecVersion] {
			continue
		}
		sel = append(sel, o)
	}
	// version selection over the whole history of each id
	vers := f.Versions
	if len(vers) == 0 {
		vers = []string{"last"}
	}
	want := setOf(vers)
	if !want["all"] {
		first, last := map[string]string{}, map[string]string{}
		for _, o := range sel {
			if v, ok := first[o.ID]; !ok || verLess(o.Version, v) {
				first[o.ID] = o.Version
			}
			if v, ok := last[o.ID]; !ok || verLess(v, o.Version) {
				last[o.ID] = o.Version
			}
		}
		kept := sel[:0]
		for _, o := range sel {
			if want["last"] && last[o.ID] == o.Version || want["first"] && first[o.ID] == o.Version || want[o.Version] || matchesTimestamp(want, o.Version) {
				kept = append(kept, o)
			}
		}
		sel = kept
	}
	if !f.AddedAfter.IsZero() {
		kept := sel[:0]
		for _, o := range sel {
			if o.DateAdded.After(f.AddedAfter) {
				kept = append(kept, o)
			}
		}
		sel = kept
	}
	if f.Next != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Next)
		parts := strings.SplitN(string(b), "|", 3)
		if err != nil || len(parts) != 3 {
			return nil, false, socbot.FieldError("taxii.Select", "next", "invalid next token")
		}
		t, err := ParseTime(parts[0])
		if err != nil {
			return nil, false, socbot.FieldError("taxii.Select", "next", "invalid next token")
		}
		i := sort.Search(len(sel), func(i int) bool {
			o := sel[i]
			if !o.DateAdded.Equal(t) {
				return o.DateAdded.After(t)
			}
			if o.ID != parts[1] {
				return o.ID > parts[1]
			}
			return o.Version > parts[2]
		})
		sel = sel[i:]
	}
	more := false
	if f.Limit > 0 && len(sel) > f.Limit {
		sel, more = sel[:f.Limit], true
	}
	return sel, more, nil
}

func matchesTimestamp(want map[string]bool, v string) bool {
	if len(want) == 0 {
		return false
	}
	t, err := ParseTime(v)
	if err != nil {
		return false
	}
	for w := range want {
		if wt, err := ParseTime(w); err == nil && wt.Equal(t) {
			return true
		}
	}
	return false
}

func verLess(a, b string) bool {
	ta, e1 := ParseTime(a)
	tb, e2 := ParseTime(b)
	if e1 == nil && e2 == nil {
		return ta.Before(tb)
	}
	return a < b
}

func setOf(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// SortObjects orders object versions as Select expects.
func SortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if !a.DateAdded.Equal(b.DateAdded) {
			return a.DateAdded.Before(b.DateAdded)
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Version < b.Version
	})
}
