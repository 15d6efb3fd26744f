// Package msgraph is socbot's Microsoft Graph connector (spec §6.1–6.4). With an app's client
// credentials it disables a user (PATCH accountEnabled=false) and revokes the user's sign-in
// sessions, re-enables the user as the inverse (revocation itself cannot be undone), and purges a
// delivered message from a known mailbox by moving it to the recoverable-items deletions folder
// (soft delete), restoring it to the inbox as the inverse.
package msgraph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/socbot/socbot"
	"github.com/socbot/socbot/connectors/vendorhttp"
)

// Type is the registered connector type.
const Type = "msgraph"

// DeletionsFolder is the well-known folder a purge moves a message to.
const DeletionsFolder = "recoverableitemsdeletions"

func init() {
	socbot.RegisterConnector(Type, func(cfg socbot.ConnectorConfig) (socbot.Connector, error) {
		return New(cfg, vendorhttp.DepsOf(cfg))
	})
}

// Connector talks to Graph for one Entra tenant.
type Connector struct {
	http   *vendorhttp.Client
	base   string
	tokens *vendorhttp.TokenSource
}

var _ socbot.Connector = (*Connector)(nil)

// New builds a Graph connector. base_url defaults to https://graph.microsoft.com. Credentials:
// tenant_id, client_id, client_secret. Options: login_url (https://login.microsoftonline.com).
func New(cfg socbot.ConnectorConfig, deps vendorhttp.Deps) (*Connector, error) {
	const op = "msgraph.New"
	tenant, id, secret := cfg.Credentials["tenant_id"], cfg.Credentials["client_id"], cfg.Credentials["client_secret"]
	if tenant == "" || id == "" || secret == "" {
		return nil, socbot.FieldError(op, "credentials", "tenant_id, client_id and client_secret required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://graph.microsoft.com"
	}
	login := cfg.Options["login_url"]
	if login == "" {
		login = "https://login.microsoftonline.com"
	}
	hc := vendorhttp.NewClient(Type, cfg, deps)
	return &Connector{http: hc, base: strings.TrimRight(base, "/"), tokens: vendorhttp.MicrosoftTokenSource(hc, login, tenant, id, secret, "https://graph.microsoft.com/.default")}, nil
}

// Type returns "msgraph".
func (c *Connector) Type() string { return Type }

// Supports reports the actions this connector carries out.
func (c *Connector) Supports(k socbot.ActionKind) bool {
	switch k {
	case socbot.ActDisableUser, socbot.ActEnableUser, socbot.ActPurgeMessage, socbot.ActRestoreMessage:
		return true
	}
	return false
}

// graphError is Graph's error envelope.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseError(b []byte) (string, string) {
	var e graphError
	_ = json.Unmarshal(b, &e)
	return e.Error.Code, e.Error.Message
}

type userObj struct {
	ID             string `json:"id"`
	UPN            string `json:"userPrincipalName"`
	AccountEnabled *bool  `json:"accountEnabled"`
}

type messageList struct {
	Value []struct {
		ID string `json:"id"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

func parseUser(b []byte) (userObj, error) {
	var u userObj
	return u, json.Unmarshal(b, &u)
}

func parseMessages(b []byte) (messageList, error) {
	var m messageList
	return m, json.Unmarshal(b, &m)
}

// call sends a Graph request; a 404 is returned as an answer (the caller maps it).
func (c *Connector) call(ctx context.Context, method, path string, body any) (*vendorhttp.Response, error) {
	r, err := c.tokens.DoBearer(ctx, func() (*http.Request, error) { return vendorhttp.NewRequest(method, c.base+path, body) })
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 && r.Status != http.StatusNotFound {
		code, msg := parseError(r.Body)
		return nil, c.http.StatusError(r, code, msg)
	}
	return r, nil
}

func (c *Connector) notFound(r *vendorhttp.Response, what string) error {
	code, msg := parseError(r.Body)
	return &socbot.VendorError{Connector: Type, Status: r.Status, Code: code, Msg: c.http.Redact(what + ": " + msg)}
}

func userPath(upn string) string { return "/v1.0/users/" + url.PathEscape(strings.TrimSpace(upn)) }

// enabled reads accountEnabled.
func (c *Connector) enabled(ctx context.Context, upn string) (bool, error) {
	r, err := c.call(ctx, http.MethodGet, userPath(upn)+"?$select=id,accountEnabled,userPrincipalName", nil)
	if err != nil {
		return false, err
	}
	if r.Status == http.StatusNotFound {
		return false, c.notFound(r, "user "+upn)
	}
	u, err := parseUser(r.Body)
	if err != nil || u.AccountEnabled == nil {
		return false, c.http.Errorf("malformed", "user answer without accountEnabled")
	}
	return *u.AccountEnabled, nil
}

func (c *Connector) revoke(ctx context.Context, upn string) error {
	r, err := c.call(ctx, http.MethodPost, userPath(upn)+"/revokeSignInSessions", nil)
	if err != nil {
		return err
	}
	if r.Status == http.StatusNotFound {
		return c.notFound(r, "user "+upn)
	}
	return nil // 200 {"value":true} or 204 (documented known issue)
}

func (c *Connector) setEnabled(ctx context.Context, upn string, on bool) error {
	r, err := c.call(ctx, http.MethodPatch, userPath(upn), map[string]bool{"accountEnabled": on})
	if err != nil {
		return err
	}
	if r.Status == http.StatusNotFound {
		return c.notFound(r, "user "+upn)
	}
	return nil
}

// splitMessage reads a message value "mailbox|internetMessageId".
func splitMessage(v string) (string, string, error) {
	mbox, imid, ok := strings.Cut(strings.TrimSpace(v), "|")
	if !ok || !strings.Contains(mbox, "@") || imid == "" {
		return "", "", socbot.FieldError("msgraph.Apply", "value", "want mailbox|internetMessageId, got %q", v)
	}
	return strings.TrimSpace(mbox), strings.TrimSpace(imid), nil
}

// find returns the ids of the messages with imid in folder ("" = anywhere).
func (c *Connector) find(ctx context.Context, mbox, imid, folder string) ([]string, error) {
	p := userPath(mbox)
	if folder != "" {
		p += "/mailFolders/" + folder
	}
	q := url.Values{"$filter": {"internetMessageId eq '" + strings.ReplaceAll(imid, "'", "''") + "'"}, "$select": {"id,subject,receivedDateTime"}}
	r, err := c.call(ctx, http.MethodGet, p+"/messages?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound {
		return nil, c.notFound(r, "mailbox "+mbox)
	}
	m, err := parseMessages(r.Body)
	if err != nil {
		return nil, c.http.Errorf("malformed", "unreadable message list")
	}
	var ids []string
	for _, v := range m.Value {
		ids = append(ids, v.ID)
	}
	return ids, nil
}

func (c *Connector) move(ctx context.Context, mbox, id, dest string) error {
	r, err := c.call(ctx, http.MethodPost, userPath(mbox)+"/messages/"+url.PathEscape(id)+"/move", map[string]string{"destinationId": dest})
	if err != nil {
		return err
	}
	if r.Status == http.StatusNotFound {
		return nil // ErrorItemNotFound: moved meanwhile
	}
	return nil
}

// Apply carries out each request in turn (Graph has no batch commit).
func (c *Connector) Apply(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.ContainmentResult, error) {
	res := make([]socbot.ContainmentResult, len(reqs))
	for i, r := range reqs {
		res[i] = c.apply(ctx, r)
	}
	return res, nil
}

func (c *Connector) apply(ctx context.Context, r socbot.ContainmentRequest) socbot.ContainmentResult {
	switch r.Kind {
	case socbot.ActDisableUser:
		on, err := c.enabled(ctx, r.Value)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if on {
			if err := c.setEnabled(ctx, r.Value, false); err != nil {
				return vendorhttp.Failed(err)
			}
		}
		// Revoke even when the account was already disabled: an earlier attempt may have stopped
		// between the two calls, and revocation is idempotent.
		if err := c.revoke(ctx, r.Value); err != nil {
			return vendorhttp.Failed(err)
		}
		if !on {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, VendorRef: r.Value, Detail: "account already disabled; sessions revoked"}
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: r.Value, Detail: "account disabled and sign-in sessions revoked"}
	case socbot.ActEnableUser:
		on, err := c.enabled(ctx, r.Value)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if on {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "account already enabled"}
		}
		if err := c.setEnabled(ctx, r.Value, true); err != nil {
			return vendorhttp.Failed(err)
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: r.Value, Detail: "account enabled (revoked sessions stay revoked)"}
	case socbot.ActPurgeMessage, socbot.ActRestoreMessage:
		mbox, imid, err := splitMessage(r.Value)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		from, to := "inbox", DeletionsFolder
		if r.Kind == socbot.ActRestoreMessage {
			from, to = DeletionsFolder, "inbox"
		}
		ids, err := c.find(ctx, mbox, imid, from)
		if err != nil {
			return vendorhttp.Failed(err)
		}
		if len(ids) == 0 {
			anywhere, err := c.find(ctx, mbox, imid, "")
			if err != nil {
				return vendorhttp.Failed(err)
			}
			if len(anywhere) == 0 {
				return vendorhttp.Failed(&socbot.VendorError{Connector: Type, Status: http.StatusNotFound, Code: "ErrorItemNotFound", Msg: "no message " + imid + " in mailbox " + mbox})
			}
			if r.Kind == socbot.ActPurgeMessage {
				return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyPresent, Detail: "no such message in the inbox"}
			}
			return socbot.ContainmentResult{Outcome: socbot.OutcomeAlreadyAbsent, Detail: "no such message in " + DeletionsFolder}
		}
		for _, id := range ids {
			if err := c.move(ctx, mbox, id, to); err != nil {
				return vendorhttp.Failed(err)
			}
		}
		if r.Kind == socbot.ActPurgeMessage {
			return socbot.ContainmentResult{Outcome: socbot.OutcomeApplied, VendorRef: imid, Detail: fmt.Sprintf("%d message(s) moved to %s", len(ids), to)}
		}
		return socbot.ContainmentResult{Outcome: socbot.OutcomeRemoved, VendorRef: imid, Detail: fmt.Sprintf("%d message(s) moved back to the inbox", len(ids))}
	}
	return vendorhttp.Failed(vendorhttp.Unsupported(Type, r.Kind))
}

// Plan reads each user or mailbox and says what Apply would send.
func (c *Connector) Plan(ctx context.Context, reqs []socbot.ContainmentRequest) ([]socbot.PlannedChange, error) {
	out := make([]socbot.PlannedChange, len(reqs))
	for i, r := range reqs {
		out[i] = socbot.PlannedChange{Connector: Type, Kind: r.Kind, Value: r.Value}
		ch := &out[i].Change
		switch r.Kind {
		case socbot.ActDisableUser, socbot.ActEnableUser:
			on, err := c.enabled(ctx, r.Value)
			if err != nil {
				return nil, err
			}
			switch {
			case r.Kind == socbot.ActDisableUser && on:
				*ch = "PATCH " + userPath(r.Value) + ` {"accountEnabled":false}; POST ` + userPath(r.Value) + "/revokeSignInSessions"
			case r.Kind == socbot.ActDisableUser:
				*ch = vendorhttp.NoChange("account already disabled (sessions are revoked again)")
			case on:
				*ch = vendorhttp.NoChange("account already enabled")
			default:
				*ch = "PATCH " + userPath(r.Value) + ` {"accountEnabled":true}`
			}
		case socbot.ActPurgeMessage, socbot.ActRestoreMessage:
			mbox, imid, err := splitMessage(r.Value)
			if err != nil {
				*ch = vendorhttp.NoChange("refused: " + err.Error())
				continue
			}
			from, to := "inbox", DeletionsFolder
			if r.Kind == socbot.ActRestoreMessage {
				from, to = DeletionsFolder, "inbox"
			}
			ids, err := c.find(ctx, mbox, imid, from)
			if err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				*ch = vendorhttp.NoChange("no such message in " + from)
				continue
			}
			*ch = fmt.Sprintf("POST %s/messages/{id}/move {\"destinationId\":%q} for %d message(s)", userPath(mbox), to, len(ids))
		default:
			*ch = vendorhttp.NoChange("refused: " + vendorhttp.Unsupported(Type, r.Kind).Error())
		}
	}
	return out, nil
}
