package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	socbot "github.com/socbot/socbot"
)

// message is a notice rendered once for every channel.
type message struct {
	Subject  string
	Event    string
	Tenant   string
	Incident socbot.Incident
	Priority string
	Detail   string
	At       time.Time
	Link     string
	Text     string
	HTML     string
}

var textTmpl = texttemplate.Must(texttemplate.New("text").Parse(`{{.Subject}}

Client:     {{.Tenant}}
Incident:   #{{.Incident.Number}} {{.Incident.Title}}
Priority:   {{.Priority}}
Status:     {{.Incident.Status}}
Queue:      {{.Incident.Queue}}
Alerts:     {{.Incident.AlertCount}}
{{- if .Incident.Assignee}}
Assignee:   {{.Incident.Assignee}}{{end}}
{{- if .Detail}}

What happened:
{{.Detail}}{{end}}
{{- if .Incident.Reasons}}

Why socbot rated it {{.Priority}}:
{{range .Incident.Reasons}}  - {{.}}
{{end}}{{end}}
{{- if .Link}}
Open it: {{.Link}}{{end}}

-- socbot, on behalf of your security operations centre
`))

var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><body style="font-family:sans-serif;color:#1b1f23">
<h2 style="margin:0 0 8px">{{.Subject}}</h2>
<table cellpadding="4" style="border-collapse:collapse">
<tr><td><b>Client</b></td><td>{{.Tenant}}</td></tr>
<tr><td><b>Incident</b></td><td>#{{.Incident.Number}} {{.Incident.Title}}</td></tr>
<tr><td><b>Priority</b></td><td>{{.Priority}}</td></tr>
<tr><td><b>Status</b></td><td>{{.Incident.Status}}</td></tr>
<tr><td><b>Queue</b></td><td>{{.Incident.Queue}}</td></tr>
<tr><td><b>Alerts</b></td><td>{{.Incident.AlertCount}}</td></tr>
{{if .Incident.Assignee}}<tr><td><b>Assignee</b></td><td>{{.Incident.Assignee}}</td></tr>{{end}}
</table>
{{if .Detail}}<p><b>What happened:</b> {{.Detail}}</p>{{end}}
{{if .Incident.Reasons}}<p><b>Why socbot rated it {{.Priority}}:</b></p><ul>{{range .Incident.Reasons}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Link}}<p><a href="{{.Link}}">Open incident #{{.Incident.Number}}</a></p>{{end}}
<p style="color:#6a737d;font-size:12px">socbot, on behalf of your security operations centre</p>
</body></html>
`))

func render(n socbot.Notification, b socbot.NotificationBody, consoleURL string) message {
	m := message{Subject: n.Subject, Event: b.Event, Tenant: b.Tenant, Incident: b.Incident, Priority: b.Incident.Priority.String(), Detail: b.Detail, At: b.At}
	if consoleURL != "" && b.Incident.ID != 0 {
		m.Link = fmt.Sprintf("%s/incidents/%d", strings.TrimRight(consoleURL, "/"), b.Incident.ID)
	}
	var tb, hb bytes.Buffer
	_ = textTmpl.Execute(&tb, m)
	_ = htmlTmpl.Execute(&hb, m)
	m.Text, m.HTML = tb.String(), hb.String()
	return m
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// slackPayload is a Slack incoming-webhook message: a text fallback and blocks.
func slackPayload(m message) []byte {
	fields := []map[string]string{
		{"type": "mrkdwn", "text": "*Client*\n" + slackEscape(m.Tenant)},
		{"type": "mrkdwn", "text": "*Priority*\n" + m.Priority},
		{"type": "mrkdwn", "text": "*Status*\n" + m.Incident.Status},
		{"type": "mrkdwn", "text": fmt.Sprintf("*Alerts*\n%d", m.Incident.AlertCount)},
	}
	blocks := []map[string]any{
		{"type": "header", "text": map[string]string{"type": "plain_text", "text": truncate(m.Subject, 150)}},
		{"type": "section", "fields": fields},
	}
	if m.Detail != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": truncate(slackEscape(m.Detail), 2900)}})
	}
	if m.Link != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": "<" + m.Link + "|Open incident #" + fmt.Sprint(m.Incident.Number) + ">"}})
	}
	return mustJSON(map[string]any{"text": m.Subject, "blocks": blocks})
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// teamsPayload is a Microsoft Teams incoming-webhook message carrying an Adaptive Card.
func teamsPayload(m message) []byte {
	facts := []map[string]string{
		{"title": "Client", "value": m.Tenant}, {"title": "Priority", "value": m.Priority},
		{"title": "Status", "value": m.Incident.Status}, {"title": "Alerts", "value": fmt.Sprint(m.Incident.AlertCount)},
	}
	body := []map[string]any{
		{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": m.Subject},
		{"type": "FactSet", "facts": facts},
	}
	if m.Detail != "" {
		body = append(body, map[string]any{"type": "TextBlock", "wrap": true, "text": truncate(m.Detail, 4000)})
	}
	card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}
	if m.Link != "" {
		card["actions"] = []map[string]string{{"type": "Action.OpenUrl", "title": "Open incident", "url": m.Link}}
	}
	return mustJSON(map[string]any{"type": "message", "attachments": []map[string]any{{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
