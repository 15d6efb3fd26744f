// Package awswaf is socbot's AWS WAF v2 IPSet connector (spec §8.2): it blocks IPs and CIDRs at
// ALB, API Gateway or CloudFront by keeping them in one IPSet. UpdateIPSet replaces the whole list, so
// every change is GetIPSet → modify → UpdateIPSet with the LockToken, read again and re-applied on
// WAFOptimisticLockException (up to 5 tries). The go.mod has no wafv2 service module, so the two
// JSON-RPC calls are made here directly and signed with aws-sdk-go-v2's SigV4 signer.
package awswaf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "awswaf"

const maxLockTries = 5

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector keeps one WAF IPSet.
type Connector struct {
	http          *vendorhttp.Client
	endpoint      string
	region, scope string
	name, id      string
	creds         aws.Credentials
	signer        *v4.Signer
	mu            sync.Mutex
}

var _ socbot.Connector = (*Connector)(nil)

// New builds the connector. base_url defaults to https://wafv2.<region>.amazonaws.com. Credentials:
// access_key_id, secret_access_key, optional session_token. Options: region (us-east-1), scope
// (REGIONAL | CLOUDFRONT; CLOUDFRONT forces us-east-1), ipset_name, ipset_id (both required).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "awswaf.New"
	c := &Connector{http: vendorhttp.NewClient(Type, cfg, deps), region: cfg.Options["region"], scope: cfg.Options["scope"],
		name: cfg.Options["ipset_name"], id: cfg.Options["ipset_id"], signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: cfg.Credentials["access_key_id"], SecretAccessKey: cfg.Credentials["secret_access_key"], SessionToken: cfg.Credentials["session_token"]}}
	if c.creds.AccessKeyID == "" || c.creds.SecretAccessKey == "" {
		return nil, socbot.FieldError(op, "credentials", "access_key_id and secret_access_key required")
	}
	if c.name == "" || c.id == "" {
		return nil, socbot.FieldError(op, "options.ipset_id", "ipset_name and ipset_id required")
	}
	switch c.scope {
	case "", "REGIONAL":
		c.scope = "REGIONAL"
	case "CLOUDFRONT":
		c.region = "us-east-1"
	default:
		return nil, socbot.FieldError(op, "options.scope", "want REGIONAL or CLOUDFRONT, got %q", c.scope)
	}
	if c.region == "" {
		c.region = "us-east-1"
	}
	c.endpoint = cfg.BaseURL
	if c.endpoint == "" {
		c.endpoint = "https://wafv2." + c.region + ".amazonaws.com"
	}
	c.endpoint = strings.TrimRight(c.endpoint, "/") + "/"
	return c, nil
}

// Type returns "awswaf".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	return k == socbot.ActBlockIP || k == socbot.ActUnblockIP
}

type awsError struct {
	Type    string `json:"__type"`
	Message string `json:"Message"`
	Msg     string `json:"message"`
}

type getIPSetOutput struct {
	IPSet struct {
		Name             string   `json:"Name"`
		ID               string   `json:"Id"`
		IPAddressVersion string   `json:"IPAddressVersion"`
		Addresses        []string `json:"Addresses"`
	} `json:"IPSet"`
	LockToken string `json:"LockToken"`
}

func parseGet(b []byte) (getIPSetOutput, error) {
	var o getIPSetOutput
	return o, json.Unmarshal(b, &o)
}

func parseError(b []byte, h http.Header) (string, string) {
	var e awsError
	_ = json.Unmarshal(b, &e)
	typ := e.Type
	if typ == "" {
		typ = h.Get("X-Amzn-ErrorType")
	}
	if i := strings.LastIndexByte(typ, '#'); i >= 0 { // "com.amazonaws…#WAFOptimisticLockException"
		typ = typ[i+1:]
	}
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	msg := e.Message
	if msg == "" {
		msg = e.Msg
	}
	return typ, msg
}

var authCodes = map[string]bool{"UnrecognizedClientException": true, "InvalidSignatureException": true, "AccessDeniedException": true,
	"MissingAuthenticationTokenException": true, "ExpiredTokenException": true, "WAFUnauthorizedException": true}

// call signs and sends one operation.
func (c *Connector) call(ctx context.Context, op string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req, err := vendorhttp.NewRequest(http.MethodPost, c.endpoint, body)
	if err != nil {
		return nil, c.http.Errorf("request", err.Error())
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSWAF_20190729."+op)
	req.Header.Del("Accept")
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), "wafv2", c.region, c.http.Clock.Now()); err != nil {
		return nil, c.http.Errorf("sign", err.Error())
	}
	r, err := c.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		code, msg := parseError(r.Body, r.Header)
		ve := c.http.StatusError(r, code, msg)
		switch {
		case authCodes[code]:
			ve.Auth = true
		case code == "ThrottlingException", code == "WAFInternalErrorException", code == "WAFUnavailableEntityException":
			ve.Retryable = true
		}
		return nil, ve
	}
	return r.Body, nil
}

func (c *Connector) get(ctx context.Context) (getIPSetOutput, error) {
	b, err := c.call(ctx, "GetIPSet", map[string]string{"Name": c.name, "Scope": c.scope, "Id": c.id})
	if err != nil {
		return getIPSetOutput{}, err
	}
	o, err := parseGet(b)
	if err != nil || o.LockToken == "" {
		return o, c.http.Errorf("malformed", "GetIPSet answered no lock token")
	}
	return o, nil
}

// cidr turns a value into the CIDR form WAF stores (/32, /128; never /0).
func cidr(v string) (string, error) {
	v = strings.TrimSpace(v)
	if p, err := netip.ParsePrefix(v); err == nil && p.Bits() > 0 {
		return p.Masked().String(), nil
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	return "", socbot.FieldError("awswaf.Apply", "value", "not an IP or CIDR (and not /0): %q", v)
}

// Apply does one read-modify-write of the IPSet for the whole batch.
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]socbot.ContainmentResult, len(reqs))
	vals := make([]string, len(reqs))
	var live []int
	for i, r := range reqs {
		if !c.Supports(r.Kind) {
			res[i] = vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
			continue
		}
		v, err := cidr(r.Value)
		if err != nil {
			res[i] = vendorhttp.Failed(err)
			continue
		}
		vals[i], live = v, append(live, i)
	}
	if len(live) == 0 {
		return res, nil
	}
	for try := 1; ; try++ {
		o, err := c.get(ctx)
		if err != nil {
			for _, i := range live {
				res[i] = vendorhttp.Failed(err)
			}
			return res, nil
		}
		v6 := o.IPSet.IPAddressVersion == "IPV6"
		set := map[string]bool{}
		for _, a := range o.IPSet.Addresses {
			set[a] = true
		}
		changed := false
		for _, i := range live {
			v := vals[i]
			if p := netip.MustParsePrefix(v); p.Addr().Is6() != v6 {
				res[i] = vendorhttp.Failed(socbot.FieldError("awswaf.Apply", "value", "%s does not fit the %s IPSet %s", v, o.IPSet.IPAddressVersion, c.name))
				continue
			}
			switch fwd := reqs[i].Kind.IsForward(); {
			case fwd && set[v]:
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: c.id, Detail: v + " already in " + c.name}
			case fwd:
				set[v], changed = true, true
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: c.id, Detail: v + " added to " + c.name}
			case set[v]:
				delete(set, v)
				changed = true
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: c.id, Detail: v + " removed from " + c.name}
			default:
				res[i] = socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: v + " not in " + c.name}
			}
		}
		if !changed {
			return res, nil
		}
		addrs := make([]string, 0, len(set))
		for a := range set {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		_, err = c.call(ctx, "UpdateIPSet", map[string]any{"Name": c.name, "Scope": c.scope, "Id": c.id, "LockToken": o.LockToken, "Addresses": addrs})
		if err == nil {
			return res, nil
		}
		ve, _ := err.(*socbot.VendorError)
		if ve != nil && ve.Code == "WAFOptimisticLockException" {
			if try < maxLockTries {
				continue
			}
			ve.Retryable = true
		}
		for _, i := range live {
			if res[i].Outcome == socbot.OutcomeApplied || res[i].Outcome == socbot.OutcomeRemoved {
				res[i] = vendorhttp.Failed(err)
			}
		}
		return res, nil
	}
}

// Plan reads the IPSet and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	o, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, a := range o.IPSet.Addresses {
		set[a] = true
	}
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		v, err := cidr(r.Value)
		switch {
		case !c.Supports(r.Kind):
			out[i].Change = vendorhttp.NoChange("refused: " + vendorhttp.Unsupported(Type, r.Kind).Error())
		case err != nil:
			out[i].Change = vendorhttp.NoChange("refused: " + err.Error())
		case r.Kind.IsForward() && set[v]:
			out[i].Change = vendorhttp.NoChange(v + " already in " + c.name)
		case r.Kind.IsForward():
			out[i].Change = fmt.Sprintf("GetIPSet %s; UpdateIPSet %s with its LockToken: Addresses += %s", c.name, c.name, v)
		case set[v]:
			out[i].Change = fmt.Sprintf("GetIPSet %s; UpdateIPSet %s with its LockToken: Addresses -= %s", c.name, c.name, v)
		default:
			out[i].Change = vendorhttp.NoChange(v + " not in " + c.name)
		}
	}
	return out, nil
}
