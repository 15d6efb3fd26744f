package socbot

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// AuditEntry records one change made by a person or a bot. Entries are append-only and chained: each
// entry's hash covers its content and the previous entry's hash, so changing or removing any entry
// breaks every hash after it.
type AuditEntry struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	TenantID string    `json:"tenant_id,omitempty"`
	Actor    string    `json:"actor"`  // who: "token:…", "cli:…", "bot:triage"
	Action   string    `json:"action"` // what: "tenant.create", "incident.update", ...
	Target   string    `json:"target"` // on what: "incident:42"
	Reason   string    `json:"reason,omitempty"`
	Details  string    `json:"details,omitempty"` // JSON
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

// AuditGenesis is the PrevHash of the first entry.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the entry's chained hash over its sequence, time, fields and PrevHash.
// Each field is length-prefixed so that no two different entries hash alike.
func (e AuditEntry) ComputeHash() string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UTC().UnixMicro()))
	h.Write(n[:])
	for _, s := range []string{e.TenantID, e.Actor, e.Action, e.Target, e.Reason, e.Details, e.PrevHash} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditRecord is what a caller hands the store to append; the store assigns Seq, At and the hashes.
type AuditRecord struct {
	TenantID string
	Actor    string
	Action   string
	Target   string
	Reason   string
	Details  any // marshalled to JSON
}

// AuditProblem is one break in the chain found by verification.
type AuditProblem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}
