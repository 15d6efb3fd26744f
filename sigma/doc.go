// Package sigma is socbot's own compiled Sigma engine: it parses Sigma rules (detection rules and
// correlation rules, spec v2), resolves them through field-mapping pipelines declared as data, and
// compiles them into an index of buckets keyed by log source (product, channel, event id). Within a
// bucket, every string test of every rule on one field is folded into a single literal scanner (a
// q-gram filter that stays in the processor's caches, see scanner.go) that reads each event value
// once, case-insensitively, so that only rules with a candidate hit are evaluated. Regular
// expressions (RE2) are compiled once and run only after cheaper tests. JSON events are read by the
// package's own tokenizer; matching an event allocates nothing.
//
// The rule authors' names travel with every Detection: the Detection Rule License (DRL 1.1) that
// covers the SigmaHQ rules requires the author in every match.
package sigma
