// Package feeds turns threat feeds of every supported format into intel.Items: it names the formats,
// detects the format of a document from its first bytes, and dispatches to the parser of each format
// family (one subpackage each: misp, abusech, plain, csvmap, rss; STIX bundles go through the stix
// package). Every parser streams.
package feeds

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"sort"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds/abusech"
	"github.com/socbot/socbot/feeds/csvmap"
	"github.com/socbot/socbot/feeds/misp"
	"github.com/socbot/socbot/feeds/plain"
	"github.com/socbot/socbot/feeds/rss"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
	"github.com/socbot/socbot/stix"
)

// Parser reads one format.
type Parser func(ctx context.Context, opts map[string]string, r io.Reader, emit func(intel.Item) error) error

// formats is the module registry of parsers by format name.
var formats = map[string]Parser{
	"stix": func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		_, err := stix.Import(r, emit)
		return err
	},
	"misp": func(ctx context.Context, o map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return misp.Parse(ctx, misp.OptionsFrom(o), r, emit)
	},
	abusech.URLhausCSV: func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return abusech.ParseCSV(ctx, abusech.URLhausCSV, r, emit)
	},
	abusech.FeodoCSV: func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return abusech.ParseCSV(ctx, abusech.FeodoCSV, r, emit)
	},
	abusech.ThreatFoxCSV: func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return abusech.ParseCSV(ctx, abusech.ThreatFoxCSV, r, emit)
	},
	abusech.FeodoJSON: func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return abusech.ParseFeodoJSON(ctx, r, emit)
	},
	abusech.ThreatFoxJSON: func(ctx context.Context, _ map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return abusech.ParseThreatFoxJSON(ctx, r, emit)
	},
	"plain": func(ctx context.Context, o map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return plain.Parse(ctx, ioc.Type(o["type"]), r, emit)
	},
	"csv": func(ctx context.Context, o map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return csvmap.Parse(ctx, csvmap.MappingFromOptions(o), r, emit)
	},
	"rss": func(ctx context.Context, o map[string]string, r io.Reader, emit func(intel.Item) error) error {
		return rss.Parse(ctx, rss.OptionsFrom(o), r, emit)
	},
	"text": func(ctx context.Context, o map[string]string, r io.Reader, emit func(intel.Item) error) error {
		var err error
		rerr := ioc.New(ioc.Options{}).ExtractReader(r, func(i ioc.IOC) {
			if err == nil {
				err = emit(intel.Item{Type: i.Type, Value: i.Value, Confidence: 40})
			}
		})
		if err != nil {
			return err
		}
		return rerr
	},
}

// Formats lists the format names.
func Formats() []string {
	var out []string
	for k := range formats {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Detect names the format of a document from its first bytes (up to 8 KB is enough).
func Detect(head []byte) string {
	h := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(h) == 0 {
		return "plain"
	}
	low := bytes.ToLower(h)
	switch h[0] {
	case '{', '[':
		switch {
		case bytes.Contains(h, []byte(`"Event"`)) || bytes.Contains(h, []byte(`"Attribute"`)):
			return "misp"
		case bytes.Contains(h, []byte(`"query_status"`)):
			return abusech.ThreatFoxJSON
		case bytes.Contains(h, []byte(`"ip_address"`)) && bytes.Contains(h, []byte(`"malware"`)):
			return abusech.FeodoJSON
		case bytes.Contains(h, []byte(`"spec_version"`)) || bytes.Contains(h, []byte(`"pattern"`)) ||
			bytes.Contains(h, []byte(`"type": "bundle"`)) || bytes.Contains(h, []byte(`"type":"bundle"`)) || bytes.Contains(h, []byte(`"objects"`)):
			return "stix"
		}
		return "json"
	case '<':
		if bytes.Contains(low, []byte("<rss")) || bytes.Contains(low, []byte("<feed")) || bytes.Contains(low, []byte("<rdf:rdf")) {
			return "rss"
		}
		return "html"
	}
	switch {
	case bytes.Contains(low, []byte("urlhaus")) || bytes.Contains(h, []byte("id,dateadded,url,url_status")):
		return abusech.URLhausCSV
	case bytes.Contains(low, []byte("feodo tracker")) || bytes.Contains(h, []byte(`"first_seen_utc","dst_ip"`)):
		return abusech.FeodoCSV
	case bytes.Contains(low, []byte("threatfox")) || bytes.Contains(h, []byte(`"ioc_value"`)):
		return abusech.ThreatFoxCSV
	}
	// a list has one short token per line; anything else is prose
	lines, listy := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(h))
	for sc.Scan() && lines < 50 {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") || strings.HasPrefix(l, "//") {
			continue
		}
		lines++
		if _, _, ok := ioc.Classify(plain.Value(l)); ok {
			listy++
		}
	}
	if lines > 0 && listy*10 >= lines*7 {
		return "plain"
	}
	return "text"
}

// Parse reads a document of the given format ("" or "auto": detected) and emits its items. It is an
// intel.ParseFunc for the scheduler (feed options select CSV columns, MISP attribute scope, RSS types).
func Parse(ctx context.Context, format string, f intel.Feed, r io.Reader, emit func(intel.Item) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if format == "" || format == "auto" {
		head, _ := br.Peek(8 << 10)
		format = Detect(head)
	}
	p, ok := formats[format]
	if !ok {
		return socbot.E("feeds.Parse", socbot.KindUnsupported, "format "+format+" is not supported (formats: "+strings.Join(Formats(), ", ")+")")
	}
	return p(ctx, f.Options, br, emit)
}

var _ intel.ParseFunc = Parse
