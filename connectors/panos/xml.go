package panos

import (
	"encoding/xml"
	"strings"
)

// response is the PAN-OS XML API envelope (§1.1), covering every answer the connector reads.
type response struct {
	XMLName xml.Name `xml:"response"`
	Status  string   `xml:"status,attr"`
	Code    string   `xml:"code,attr"`
	Msg     msgNode  `xml:"msg"`
	Result  result   `xml:"result"`
}

type msgNode struct {
	Text  string     `xml:",chardata"`
	Lines []lineNode `xml:"line"`
}

type lineNode struct {
	Text string       `xml:",chardata"`
	UID  *uidResponse `xml:"uid-response"`
}

type uidResponse struct {
	Register   []uidEntry `xml:"payload>register>entry"`
	Unregister []uidEntry `xml:"payload>unregister>entry"`
}

type uidEntry struct {
	IP      string `xml:"ip,attr"`
	Message string `xml:"message,attr"`
}

type result struct {
	TotalCount string     `xml:"total-count,attr"`
	Count      string     `xml:"count,attr"`
	Key        string     `xml:"key"`
	Msg        msgNode    `xml:"msg"`
	Job        *jobNode   `xml:"job"`
	Entries    []entry    `xml:"entry"`
	Static     *members   `xml:"static"`
	UID        *uidResult `xml:"uid-response"`
}

type uidResult struct {
	Version string `xml:"version"`
}

type jobNode struct {
	Text     string   `xml:",chardata"`
	ID       string   `xml:"id"`
	Type     string   `xml:"type"`
	Status   string   `xml:"status"`
	Result   string   `xml:"result"`
	Progress string   `xml:"progress"`
	Details  []string `xml:"details>line"`
}

type members struct {
	Members []string `xml:"member"`
}

type entry struct {
	Name      string   `xml:"name,attr"`
	IP        string   `xml:"ip,attr"`
	IPNetmask string   `xml:"ip-netmask"`
	FQDN      string   `xml:"fqdn"`
	IPRange   string   `xml:"ip-range"`
	Desc      string   `xml:"description"`
	Tags      []string `xml:"tag>member"`
}

// parseResponse decodes one XML API answer.
func parseResponse(body []byte) (*response, error) {
	var r response
	if err := xml.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// message flattens the human text of an answer.
func (r *response) message() string {
	var parts []string
	add := func(m msgNode) {
		if t := strings.TrimSpace(m.Text); t != "" {
			parts = append(parts, t)
		}
		for _, l := range m.Lines {
			if t := strings.TrimSpace(l.Text); t != "" {
				parts = append(parts, t)
			}
			if l.UID != nil {
				for _, e := range append(l.UID.Register, l.UID.Unregister...) {
					parts = append(parts, e.IP+": "+e.Message)
				}
			}
		}
	}
	add(r.Msg)
	add(r.Result.Msg)
	return strings.Join(parts, "; ")
}

// uid returns the per-entry User-ID answers of an error response.
func (r *response) uid() *uidResponse {
	for _, l := range r.Msg.Lines {
		if l.UID != nil {
			return l.UID
		}
	}
	return nil
}

// jobID returns the commit job id, "" when there was nothing to commit.
func (r *response) jobID() string {
	if r.Result.Job == nil {
		return ""
	}
	if id := strings.TrimSpace(r.Result.Job.ID); id != "" {
		return id
	}
	return strings.TrimSpace(r.Result.Job.Text)
}
