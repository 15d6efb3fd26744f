// Package stix maps socbot's indicators to and from STIX 2.1: deterministic identifiers (UUIDv5 over
// the JCS-canonical ID-contributing properties for cyber-observable objects, socbot's own namespace for
// indicators), the indicator SDO with TLP markings, a full parser of the STIX patterning language, and a
// streaming bundle reader and writer so that bundles of any size go through in constant memory.
package stix

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// SCONamespace is the UUIDv5 namespace the STIX 2.1 specification fixes for cyber-observable ids.
var SCONamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// socbotNamespace names socbot's own deterministic SDO/SRO ids (relationships, the identity).
var socbotNamespace = uuid.MustParse("6f0b7d52-2e5c-5d0e-9a4e-3c1f6b8d2a77")

// TLP 1.0 marking-definition ids, fixed by the STIX 2.1 specification.
const (
	TLPWhiteID = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLPGreenID = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLPAmberID = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLPRedID   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
)

// tlpMarking maps a TLP level to the marking-definition id used on export. STIX defines no ids for
// TLP 2.0 CLEAR and AMBER+STRICT: CLEAR is written as TLP:WHITE and AMBER+STRICT as the (stricter
// than required) TLP:RED, so that a 2.1 consumer never shares more than allowed.
func tlpMarking(t intel.TLP) string {
	switch t {
	case intel.TLPClear:
		return TLPWhiteID
	case intel.TLPGreen:
		return TLPGreenID
	case intel.TLPAmber:
		return TLPAmberID
	}
	return TLPRedID
}

// TLPFromMarking reads a TLP 1.0 marking-definition id.
func TLPFromMarking(id string) (intel.TLP, bool) {
	switch id {
	case TLPWhiteID:
		return intel.TLPClear, true
	case TLPGreenID:
		return intel.TLPGreen, true
	case TLPAmberID:
		return intel.TLPAmber, true
	case TLPRedID:
		return intel.TLPRed, true
	}
	return 0, false
}

// jcsString writes s as an RFC 8785 (JCS) string: JSON escaping without HTML escapes.
func jcsString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// SCOID returns the deterministic id of a cyber-observable object of type scoType whose only
// ID-contributing property is `value` (ipv4-addr, ipv6-addr, domain-name, url, email-addr ...).
func SCOID(scoType, value string) string {
	var b bytes.Buffer
	b.WriteString(`{"value":`)
	jcsString(&b, value)
	b.WriteByte('}')
	return scoType + "--" + uuid.NewSHA1(SCONamespace, b.Bytes()).String()
}

// FileID returns the deterministic id of a file object identified by one hash (algorithm as STIX
// writes it: MD5, SHA-1, SHA-256, SHA-512).
func FileID(algo, hash string) string {
	var b bytes.Buffer
	b.WriteString(`{"hashes":{`)
	jcsString(&b, algo)
	b.WriteByte(':')
	jcsString(&b, hash)
	b.WriteString(`}}`)
	return "file--" + uuid.NewSHA1(SCONamespace, b.Bytes()).String()
}

// RelationshipID is socbot's deterministic id for a relationship.
func RelationshipID(kind, source, target string) string {
	return "relationship--" + uuid.NewSHA1(socbotNamespace, []byte(kind+"\x00"+source+"\x00"+target)).String()
}

// IdentityID is the id of socbot's identity object (created_by_ref of everything it exports).
var IdentityID = "identity--" + uuid.NewSHA1(socbotNamespace, []byte("socbot")).String()

var hashAlgo = map[ioc.Type]string{ioc.MD5: "MD5", ioc.SHA1: "SHA-1", ioc.SHA256: "SHA-256", ioc.SHA512: "SHA-512"}

// PatternFor writes the STIX pattern of an indicator value.
func PatternFor(t ioc.Type, v string) string {
	q := quote(v)
	switch t {
	case ioc.IPv4:
		return "[ipv4-addr:value = " + q + "]"
	case ioc.IPv6:
		return "[ipv6-addr:value = " + q + "]"
	case ioc.CIDR:
		if strings.Contains(v, ":") {
			return "[ipv6-addr:value ISSUBSET " + q + "]"
		}
		return "[ipv4-addr:value ISSUBSET " + q + "]"
	case ioc.Domain:
		return "[domain-name:value = " + q + "]"
	case ioc.URL:
		return "[url:value = " + q + "]"
	case ioc.Email:
		return "[email-addr:value = " + q + "]"
	case ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		return "[file:hashes.'" + hashAlgo[t] + "' = " + q + "]"
	case ioc.CVE:
		return "[vulnerability:name = " + q + "]"
	case ioc.AttackTechnique:
		return "[attack-pattern:external_references[*].external_id = " + q + "]"
	}
	return ""
}

var patternEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func quote(v string) string {
	return "'" + patternEscaper.Replace(v) + "'"
}

// SCOFor returns the cyber-observable object of an indicator value (nil for CVE and technique ids).
func SCOFor(t ioc.Type, v string) map[string]any {
	var typ string
	switch t {
	case ioc.IPv4:
		typ = "ipv4-addr"
	case ioc.IPv6:
		typ = "ipv6-addr"
	case ioc.CIDR:
		typ = "ipv4-addr"
		if strings.Contains(v, ":") {
			typ = "ipv6-addr"
		}
	case ioc.Domain:
		typ = "domain-name"
	case ioc.URL:
		typ = "url"
	case ioc.Email:
		typ = "email-addr"
	case ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512:
		return map[string]any{"type": "file", "spec_version": "2.1", "id": FileID(hashAlgo[t], v),
			"hashes": map[string]string{hashAlgo[t]: v}}
	default:
		return nil
	}
	return map[string]any{"type": typ, "spec_version": "2.1", "id": SCOID(typ, v), "value": v}
}

// Timestamp formats t as STIX wants: RFC 3339 UTC with millisecond precision and a Z.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
