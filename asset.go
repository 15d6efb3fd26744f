package socbot

import "time"

// Asset criticalities, lowest first.
var Criticalities = []string{"low", "medium", "high", "critical"}

// ValidCriticality reports whether c is one of Criticalities (or empty).
func ValidCriticality(c string) bool {
	if c == "" {
		return true
	}
	for _, v := range Criticalities {
		if v == c {
			return true
		}
	}
	return false
}

// Asset is a client's host or service, known from their inventory.
type Asset struct {
	ID             int64     `json:"id"`
	TenantID       string    `json:"tenant_id"`
	Hostname       string    `json:"hostname"`
	IPs            []string  `json:"ips,omitempty"`
	Owner          string    `json:"owner,omitempty"`
	Criticality    string    `json:"criticality,omitempty"` // low, medium, high, critical
	InternetFacing bool      `json:"internet_facing"`
	CrownJewel     bool      `json:"crown_jewel"`
	Tags           []string  `json:"tags,omitempty"`
	OS             string    `json:"os,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Indicator list verdicts: a value the tenant knows to be bad, or knows to be good.
const (
	ListBad  = "bad"
	ListGood = "good"
)

// ListIndicator is an entry of a tenant's own indicator list: known-bad or known-good values that
// analysts manage through the API.
type ListIndicator struct {
	ID          int64      `json:"id"`
	TenantID    string     `json:"tenant_id"`
	Type        string     `json:"type"` // ip, cidr, domain, url, md5, sha1, sha256, email, user, host
	Value       string     `json:"value"`
	List        string     `json:"list"` // bad or good
	Description string     `json:"description,omitempty"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}
