// Package containment is the containment bot: it turns requests (from playbooks, analysts and the
// CLI) into block / isolate / disable actions on the tenants' connectors, and keeps every action in a
// ledger with a state machine, attempts, approvals, expiry and rollback.
//
// The flow of one action is
//
//	requested -> awaiting_approval -> approved -> applying -> applied -> expiring -> removed
//
// with failed and denied as the other ends. Safety rails (never-block lists, private ranges, blast
// radius, "everything" requests) run before an action is stored as requestable; the tenant's CEL
// approval policy decides how many distinct people must approve; the Executor applies approved
// actions in batches per connector with backoff, the vendor's throttling signal and a circuit
// breaker, and resumes after a crash without applying anything twice.
package containment
