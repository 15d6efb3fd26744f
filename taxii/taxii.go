// Package taxii speaks TAXII 2.1: a client (discovery, API roots, collections, objects with
// added_after/limit/next and the X-TAXII-Date-Added-Last fallback, manifests, adding objects, status;
// basic and bearer auth) with an intel.Collector for the feed scheduler, and a server (an http.Handler
// mounted at /taxii2/) over a Backend storage interface, with an in-memory backend and a backend that
// publishes the intel bot's indicators per tenant with TLP enforced.
package taxii

import (
	"encoding/json"
	"strings"
	"time"
)

// MediaType is the TAXII 2.1 media type (Accept and Content-Type).
const MediaType = "application/taxii+json;version=2.1"

// STIXMediaType is the media type of STIX 2.1 content in collections.
const STIXMediaType = "application/stix+json;version=2.1"

// Headers of the objects, manifest and versions endpoints.
const (
	HeaderDateAddedFirst = "X-TAXII-Date-Added-First"
	HeaderDateAddedLast  = "X-TAXII-Date-Added-Last"
)

// TimeFormat is how TAXII writes date_added: RFC 3339, UTC, microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime reads a TAXII/STIX timestamp.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// Discovery is the answer of GET /taxii2/.
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot describes an API root.
type APIRoot struct {
	Name             string   `json:"-"` // path segment
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection describes a collection.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Envelope is the answer of GET objects and versions.
type Envelope struct {
	More    bool              `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// ManifestRecord is one object version in a manifest.
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

// Manifest is the answer of GET manifest.
type Manifest struct {
	More    bool             `json:"more,omitempty"`
	Next    string           `json:"next,omitempty"`
	Objects []ManifestRecord `json:"objects,omitempty"`
}

// Versions is the answer of GET versions.
type Versions struct {
	More     bool     `json:"more,omitempty"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// StatusDetail is one object's outcome in a status resource.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Status is a status resource (the answer of POST objects).
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"` // complete or pending
	RequestTimestamp string         `json:"request_timestamp,omitempty"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []StatusDetail `json:"pendings,omitempty"`
}

// Error is a TAXII error message.
type Error struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
}

// Object is one stored version of a STIX object.
type Object struct {
	ID          string
	Type        string
	Version     string // modified (or created) timestamp as written
	SpecVersion string
	DateAdded   time.Time
	Raw         json.RawMessage
}

// Filter is the query of objects, manifest and versions requests.
type Filter struct {
	AddedAfter   time.Time
	Limit        int
	Next         string
	IDs          []string
	Types        []string
	Versions     []string // "last" (default), "first", "all" or timestamps
	SpecVersions []string
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
