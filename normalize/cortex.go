package normalize

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	socbot "github.com/socbot/socbot"
)

// cortexXDR reads Palo Alto Networks Cortex XDR alerts (get_alerts v1, get_alerts_multi_events v2 with
// array-valued fields, the internal alert_fields shape) and incidents (get_incidents; an incident that
// embeds alerts[] is split into its alerts before it gets here).
type cortexXDR struct{}

var (
	_ Normalizer  = cortexXDR{}
	_ Prioritized = cortexXDR{}
)

func init() { Register("cortex_xdr", cortexXDR{}) }

func (cortexXDR) Name() string { return "cortex_xdr" }

// Priority places it in the detection order (most common sources first; see Prioritized).
func (cortexXDR) Priority() int { return 110 }

func cortexAlert(v *fastjson.Value) bool {
	return v.Get("alert_id") != nil && (v.Get("detection_timestamp") != nil || v.Get("matching_service_rule_id") != nil || v.Get("endpoint_id") != nil) ||
		v.Get("internal_id") != nil && v.Get("alert_name") != nil
}

func cortexIncident(v *fastjson.Value) bool {
	return v.Get("incident_id") != nil && (v.Get("xdr_url") != nil || v.Get("incident_sources") != nil)
}

func (cortexXDR) Match(v *fastjson.Value) bool { return cortexAlert(v) || cortexIncident(v) }

// cortexSeverity reads low/medium/... or the internal SEV_030_MEDIUM form (by name: the digits are not a score).
func cortexSeverity(r *reader, a *socbot.Alert, v *fastjson.Value, path string) {
	raw := r.str(v, path)
	if raw == "" {
		return
	}
	s := raw
	if strings.HasPrefix(s, "SEV_") {
		s = s[strings.LastIndexByte(s, '_')+1:]
	}
	if sev, ok := severityName(s); ok {
		setSeverity(a, sev, raw)
		return
	}
	r.fail(path, "unknown severity %q", truncate(raw, 40))
}

// cortexMitre reads "TA0002 - Execution" / "T1059.001 - PowerShell" lists.
func cortexMitre(r *reader, a *socbot.Alert, v *fastjson.Value) {
	for _, p := range [...]string{"mitre_tactic_id_and_name", "mitre_tactics_ids_and_names"} {
		r.eachStr(v, p, func(s string) { addTactic(a, s) })
	}
	for _, p := range [...]string{"mitre_technique_id_and_name", "mitre_techniques_ids_and_names"} {
		r.eachStr(v, p, func(s string) { addTechnique(a, s) })
	}
}

func (cortexXDR) Normalize(v *fastjson.Value, now time.Time) ([]socbot.Alert, error) {
	r := newReader("cortex_xdr")
	a := newAlert("Palo Alto Networks", "Cortex XDR")
	if !cortexAlert(v) && cortexIncident(v) {
		cortexIncidentAlert(r, &a, v, now)
	} else {
		cortexAlertFields(r, &a, v, now)
	}
	if r.err != nil {
		return nil, r.err
	}
	finish(&a)
	return []socbot.Alert{a}, nil
}

func cortexIncidentAlert(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	id := r.str(v, "incident_id")
	if id == "" {
		r.missing("incident_id")
	}
	a.SourceID = "incident:" + id
	a.Title = r.first(v, "incident_name", "description")
	a.Description = r.first(v, "manual_description", "description")
	a.Category = r.str(v, "alert_categories")
	a.RuleName = r.str(v, "incident_sources")
	if r.str(v, "manual_severity") != "" {
		cortexSeverity(r, a, v, "manual_severity")
	} else {
		cortexSeverity(r, a, v, "severity")
	}
	t, ok := r.when(v, "creation_time", "detection_time", "modification_time")
	setTime(a, t, ok, now)
	cortexMitre(r, a, v)
	// hosts are "<name>:<endpoint id>".
	r.eachStr(v, "hosts", func(s string) {
		if i := strings.LastIndexByte(s, ':'); i > 0 && strings.IndexByte(s, ':') == i {
			s = s[:i]
		}
		addHost(a, s, socbot.AsTarget)
	})
	r.eachStr(v, "users", func(s string) { addUser(a, s, socbot.AsActor) })
}

func cortexAlertFields(r *reader, a *socbot.Alert, v *fastjson.Value, now time.Time) {
	a.SourceID = r.first(v, "alert_id", "internal_id", "external_id")
	if a.SourceID == "" {
		r.missing("alert_id")
	}
	a.Title = r.first(v, "name", "alert_name")
	a.RuleName = a.Title
	a.RuleID = r.first(v, "matching_service_rule_id", "bioc_indicator")
	a.Description = r.first(v, "description", "alert_description")
	a.Category = r.first(v, "category", "alert_category", "alert_type")
	if src := r.first(v, "source", "alert_source"); src != "" {
		a.Product = "Cortex XDR (" + src + ")"
	}
	cortexSeverity(r, a, v, "severity")
	t, ok := r.when(v, "detection_timestamp", "source_insert_ts", "event_timestamp", "local_insert_ts")
	setTime(a, t, ok, now)
	cortexMitre(r, a, v)

	addHost(a, r.first(v, "host_name", "agent_hostname"), socbot.AsTarget)
	r.eachStr(v, "host_ip", func(s string) { addIPs(a, s, socbot.AsTarget) })
	r.eachStr(v, "agent_ip_addresses", func(s string) { addIP(a, s, socbot.AsTarget) })
	r.eachStr(v, "user_name", func(s string) { addUser(a, s, socbot.AsActor) })
	r.eachStr(v, "action_local_ip", func(s string) { addIP(a, s, socbot.AsSource) })
	r.eachStr(v, "action_remote_ip", func(s string) { addIP(a, s, socbot.AsDestination) })
	r.eachStr(v, "action_external_hostname", func(s string) { addDomain(a, s, socbot.AsDestination) })
	r.eachStr(v, "dns_query_name", func(s string) { addDomain(a, s, socbot.AsDestination) })
	r.eachStr(v, "fw_url_domain", func(s string) { addDomain(a, s, socbot.AsDestination) })
	r.eachStr(v, "action_file_path", func(s string) { addFile(a, s, socbot.AsTarget) })
	for _, h := range [...]string{"action_file_sha256", "action_file_md5"} {
		r.eachStr(v, h, func(s string) { addHash(a, s, socbot.AsTarget) })
	}
	cortexProcess(r, a, v, "actor_process_image", socbot.AsActor)
	for _, h := range [...]string{"actor_process_image_sha256", "actor_process_image_md5"} {
		r.eachStr(v, h, func(s string) { addHash(a, s, socbot.AsActor) })
	}
	cortexProcess(r, a, v, "causality_actor_process_image", socbot.AsRelated)
	for _, h := range [...]string{"causality_actor_process_image_sha256", "causality_actor_process_image_md5"} {
		r.eachStr(v, h, func(s string) { addHash(a, s, socbot.AsRelated) })
	}
	r.eachStr(v, "action_process_image_name", func(s string) { addProcess(a, s, socbot.AsTarget) })
	r.eachStr(v, "action_process_image_sha256", func(s string) { addHash(a, s, socbot.AsTarget) })
}

// cortexProcess adds <prefix>_path, or <prefix>_name when no path is given (each may be an array).
func cortexProcess(r *reader, a *socbot.Alert, v *fastjson.Value, prefix string, role socbot.ObsRole) {
	n := len(a.Observables)
	r.eachStr(v, prefix+"_path", func(s string) { addProcess(a, s, role) })
	if len(a.Observables) == n {
		r.eachStr(v, prefix+"_name", func(s string) { addProcess(a, s, role) })
	}
}
