package socbot

// IndicatorMatch is one hit of an observed value against the threat-intel match index.
type IndicatorMatch struct {
	IndicatorID string   `json:"indicator_id"` // STIX id of the indicator
	Type        string   `json:"type"`         // indicator type: ipv4, ipv6, cidr, domain, url, md5, sha1, sha256, email, ...
	Value       string   `json:"value"`        // the indicator's value (e.g. the CIDR or parent domain)
	Matched     string   `json:"matched"`      // the observed value that matched
	Why         string   `json:"why"`          // exact, cidr, subdomain, url
	Score       int      `json:"score"`        // current (decayed) score 0-100
	Sources     []string `json:"sources,omitempty"`
	TLP         string   `json:"tlp,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	TenantID    string   `json:"tenant_id,omitempty"` // owner of the indicator: the tenant, or "" for an MSSP-wide one
}

// IndicatorMatcher looks observed values up in the threat-intel index: the tenant's own indicators and
// the MSSP-wide ones. It must be safe for concurrent use and fast (millions of lookups per second).
type IndicatorMatcher interface {
	Match(tenantID string, typ ObservableType, value string) []IndicatorMatch
}
