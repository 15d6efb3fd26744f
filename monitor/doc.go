// Package monitor is the monitor bot: it runs Sigma rules over log files and log streams, reads
// Suricata and Zeek network logs, turns Suricata alerts into alerts, matches network metadata
// (destination IPs, DNS queries, HTTP hosts, TLS SNI and JA3, file hashes) against the threat-intel
// index, and submits everything it finds to triage through socbot.AlertSink.
//
// Inputs: files and directories (format detected per file: EVTX, JSON, JSON Lines, Suricata eve.json,
// Zeek TSV and JSON, syslog text), syslog listeners (UDP and TCP), an HTTP handler for JSON log
// batches, and tailing of files. Memory is bounded everywhere: a fixed pool of processors (one Sigma
// matcher each), bounded request bodies and line lengths, and blocking hand-off so that a slow sink
// slows the inputs down instead of queueing without limit.
package monitor
