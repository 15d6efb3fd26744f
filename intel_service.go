package socbot

import (
	"context"
	"io"
	"time"
)

// IntelService is what the API asks of the intel bot: indicator search and detail (with sources and
// sightings), analysts' additions, imports and verdicts, matching, feeds (credentials sealed, never
// returned), firewall lists and STIX/MISP exports. Every method takes the acting principal and the
// tenant it acts on, already scoped by the caller: for reads, "" is every tenant (MSSP-wide
// principals only) and a tenant id means that tenant's indicators plus the MSSP-wide set; for
// writes, "" is the MSSP-wide set. An object of another tenant is KindNotFound. TLP is enforced on
// every answer against the principal: nothing marked above what it may receive leaves. Changes are
// audited by the implementation.
type IntelService interface {
	SearchIndicators(ctx context.Context, p Principal, tenantID string, q IntelQuery) ([]IntelIndicator, error)
	// GetIndicator returns one indicator by STIX id, with its sources and the sightings the principal
	// may see (its own tenant's; MSSP staff see all).
	GetIndicator(ctx context.Context, p Principal, tenantID, id string) (IntelIndicator, error)
	// AddIndicators adds indicators reported by a person (source "analyst:<name>" unless one is given).
	AddIndicators(ctx context.Context, p Principal, tenantID string, add IntelAdd) (IntelIngest, error)
	// Import parses a feed file of any supported format (auto-detected unless named) and ingests it.
	Import(ctx context.Context, p Principal, tenantID string, opt IntelImportOptions, body io.Reader) (IntelIngest, error)
	// RecordSighting records a person's sighting or verdict (false positive, expired) on an indicator.
	RecordSighting(ctx context.Context, p Principal, tenantID, id string, s IntelSightingInput) (IntelIndicator, error)
	// Match looks observables up the way triage does, without recording sightings. An observable
	// without a type is recognised from its value (defanged is fine).
	Match(ctx context.Context, p Principal, tenantID string, obs []Observable) ([]IndicatorMatch, error)

	Feeds(ctx context.Context, p Principal, tenantID string) ([]IntelFeed, error)
	GetFeed(ctx context.Context, p Principal, tenantID, name string) (IntelFeed, error)
	// PutFeed creates or replaces a feed. Credentials are sealed before they are stored and never come
	// back; a replacement without credentials keeps the stored ones. It reports whether it created.
	PutFeed(ctx context.Context, p Principal, tenantID string, f IntelFeed, reason string) (IntelFeed, bool, error)
	// DeleteFeed removes a feed; its indicators stay attributed to it and age out.
	DeleteFeed(ctx context.Context, p Principal, tenantID, name, reason string) error
	// RunFeed collects a feed now and returns it with its new status.
	RunFeed(ctx context.Context, p Principal, tenantID, name string) (IntelFeed, error)

	// EDL writes a firewall list (PAN-OS external dynamic list text) and returns its entry count.
	EDL(ctx context.Context, p Principal, tenantID, list string, q IntelEDLQuery, w io.Writer) (int, error)
	// Export writes the tenant's active indicators as a STIX 2.1 bundle ("stix") or a MISP event
	// ("misp") and returns the number of indicators written.
	Export(ctx context.Context, p Principal, tenantID string, q IntelExport, w io.Writer) (int, error)
}

// IntelQuery selects indicators in a search.
type IntelQuery struct {
	Types       []string // ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, cve, attack_technique
	Value       string   // an exact value (normalised, defanged is fine)
	Prefix      string   // values starting with
	Source      string
	Tag         string
	MinScore    int  // current (decayed) score at least
	ActiveOnly  bool // only indicators that currently match and are published
	IncludeDead bool // also revoked and warninglist-filtered ones
	Limit       int  // default 100, at most 1000
	Offset      int
}

// IntelIndicator is an indicator as the API shows it.
type IntelIndicator struct {
	ID             string          `json:"id"`
	TenantID       string          `json:"tenant_id"` // "" for the MSSP-wide set
	Type           string          `json:"type"`
	Value          string          `json:"value"`
	Score          int             `json:"score"`  // current, decayed
	Active         bool            `json:"active"` // matches and is published now
	Confidence     int             `json:"confidence"`
	TLP            string          `json:"tlp"`
	Tags           []string        `json:"tags,omitempty"`
	KillChain      []IntelPhase    `json:"kill_chain_phases,omitempty"`
	Description    string          `json:"description,omitempty"`
	Sources        []IntelSource   `json:"sources"`
	FirstSeen      time.Time       `json:"first_seen"`
	LastSeen       time.Time       `json:"last_seen"`
	SightingCount  int             `json:"sighting_count"`
	LastSighting   *time.Time      `json:"last_sighting,omitempty"`
	FalsePositives int             `json:"false_positives,omitempty"`
	Revoked        bool            `json:"revoked,omitempty"`
	FilteredBy     string          `json:"filtered_by,omitempty"`
	Created        time.Time       `json:"created"`
	Modified       time.Time       `json:"modified"`
	Sightings      []IntelSighting `json:"sightings,omitempty"` // GetIndicator only
}

// IntelPhase is a kill-chain phase.
type IntelPhase struct {
	KillChain string `json:"kill_chain_name"`
	Phase     string `json:"phase_name"`
}

// IntelSource is one feed's (or person's) report of an indicator.
type IntelSource struct {
	Name        string     `json:"name"`
	Reliability int        `json:"reliability"`
	Confidence  int        `json:"confidence"`
	FirstSeen   time.Time  `json:"first_seen"`
	LastSeen    time.Time  `json:"last_seen"`
	Ref         string     `json:"ref,omitempty"`
	Disabled    bool       `json:"disabled,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// IntelSighting is one sighting of an indicator.
type IntelSighting struct {
	SeenBy   string    `json:"seen_by"`
	Observed string    `json:"observed,omitempty"`
	Source   string    `json:"source"`
	Ref      string    `json:"ref,omitempty"`
	Kind     string    `json:"kind"` // sighting, false_positive, expiration
	At       time.Time `json:"at"`
}

// IntelAdd is a person's addition of indicators.
type IntelAdd struct {
	Indicators  []IntelNewIndicator `json:"indicators"`
	Source      string              `json:"source,omitempty"` // default "analyst:<principal>"
	Reliability int                 `json:"reliability,omitempty"`
	Reason      string              `json:"reason,omitempty"`
}

// IntelNewIndicator is one indicator a person adds.
type IntelNewIndicator struct {
	Type        string     `json:"type"`
	Value       string     `json:"value"`
	Confidence  int        `json:"confidence,omitempty"`
	TLP         string     `json:"tlp,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	Description string     `json:"description,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// IntelImportOptions describe an uploaded feed file.
type IntelImportOptions struct {
	Format      string            // auto-detected when empty
	Source      string            // default "import:<principal>"
	Reliability int               // default 60
	Confidence  int               // of items that carry none; default 60
	TLP         string            // of items that carry none; default amber
	Options     map[string]string // parser options (CSV column mapping ...)
	Reason      string
}

// IntelIngest counts what an addition or import did.
type IntelIngest struct {
	Source   string `json:"source"`
	Items    int    `json:"items"`
	Invalid  int    `json:"invalid"`
	Filtered int    `json:"filtered"`
	New      int    `json:"new"`
	Updated  int    `json:"updated"`
	Revoked  int    `json:"revoked"`
}

// IntelSightingInput is a person's sighting or verdict.
type IntelSightingInput struct {
	Kind     string `json:"kind"` // sighting (default), false_positive, expiration
	Observed string `json:"observed,omitempty"`
	Ref      string `json:"ref,omitempty"` // e.g. an incident or ticket id; repeats with the same ref are ignored
	Reason   string `json:"reason,omitempty"`
}

// IntelFeed is a collected feed as the API shows and accepts it. Credentials are write-only.
type IntelFeed struct {
	Name              string            `json:"name"`
	TenantID          string            `json:"tenant_id"`
	URL               string            `json:"url"`
	Format            string            `json:"format,omitempty"`
	Interval          string            `json:"interval,omitempty"`
	Enabled           bool              `json:"enabled"`
	Reliability       int               `json:"reliability,omitempty"`
	DefaultConfidence int               `json:"default_confidence,omitempty"`
	TLP               string            `json:"tlp,omitempty"`
	Tags              []string          `json:"tags,omitempty"`
	Options           map[string]string `json:"options,omitempty"`
	Timeout           string            `json:"timeout,omitempty"`
	MaxBytes          int64             `json:"max_bytes,omitempty"`
	// Auth is accepted on create and replace and never returned.
	Auth *IntelFeedAuth `json:"auth,omitempty"`
	// CredentialsSet says that sealed credentials are stored (they are never shown).
	CredentialsSet bool             `json:"credentials_set"`
	Status         *IntelFeedStatus `json:"status,omitempty"`
}

// IntelFeedAuth are a feed's credentials (input only).
type IntelFeedAuth struct {
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	BearerToken string `json:"bearer_token,omitempty"`
	Header      string `json:"header,omitempty"`
	HeaderValue string `json:"header_value,omitempty"`
}

// IntelFeedStatus is a feed's health.
type IntelFeedStatus struct {
	Healthy             bool        `json:"healthy"`
	ConsecutiveFailures int         `json:"consecutive_failures"`
	LastAttempt         *time.Time  `json:"last_attempt,omitempty"`
	LastSuccess         *time.Time  `json:"last_success,omitempty"`
	LastError           string      `json:"last_error,omitempty"`
	LastHTTPStatus      int         `json:"last_http_status,omitempty"`
	NotModified         bool        `json:"not_modified,omitempty"`
	LastStats           IntelIngest `json:"last_stats"`
}

// IntelEDLQuery narrows a firewall list (never widens it beyond its configuration).
type IntelEDLQuery struct {
	MinScore int
	MaxAge   time.Duration
	Limit    int
	TLP      string
}

// IntelExport selects an export.
type IntelExport struct {
	Format      string // stix or misp
	TLP         string // the most restrictive marking exported (capped by the principal's)
	Observables bool   // STIX: also each indicator's observable and a based-on relationship
	OwnOnly     bool   // only the tenant's own indicators, not the MSSP-wide ones
}
