// Package normalize turns vendor alert records into socbot.Alert.
//
// It has two halves. Records splits a request body (one JSON object, a JSON array of objects, or NDJSON)
// into records without decoding them. Normalize reads one record with a pooled fastjson parser, unwraps
// the usual API envelopes (OData {"value":[...]}, {"data":[...]}, {"resources":[...]}, {"Findings":[...]},
// EventBridge {"detail":...}, Elasticsearch hits, es_archiver documents, Cortex {"reply":...}), picks the
// format (named, or detected by the registered normalisers in a fixed order, specific formats first and
// the generic field mapping last) and maps the vendor's fields onto the one alert model: severity on one
// scale with the vendor's value kept, MITRE ATT&CK tactics and techniques, times, and observables with
// their roles.
//
// Normalisers register themselves in a module registry (Register); the built-in ones are ocsf, elastic,
// suricata, wazuh, defender (alias graph), crowdstrike, sentinelone, guardduty, securityhub, gcp_scc,
// cortex_xdr, zeek_notice and generic. docs/formats.md says what each one reads from where.
package normalize
