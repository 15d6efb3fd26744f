package sigma

import (
	"bytes"
	"embed"
	"errors"
	"io"
	"sort"

	"gopkg.in/yaml.v3"

	socbot "github.com/socbot/socbot"
)

//go:embed pipelines/*.yaml
var pipelineFS embed.FS

// Pipeline maps rules' logsources to event sources and renames fields per source. It is declared as
// data (YAML): see pipelines/*.yaml for the built-in mappings.
type Pipeline struct {
	Products     map[string]*ProductMap
	Placeholders map[string][]string
}

// ProductMap is the mapping of one product's services and categories.
type ProductMap struct {
	Product      string                  `yaml:"product"`
	Services     map[string][]SourceSpec `yaml:"services"`
	Categories   map[string][]SourceSpec `yaml:"categories"`
	Placeholders map[string][]string     `yaml:"placeholders"`
}

// SourceSpec is one event source: a channel (Windows channel, Zeek path, Suricata event type, ...),
// optionally restricted to event ids, with an optional renaming of rule fields to event fields.
type SourceSpec struct {
	Channel  string            `yaml:"channel"`
	EventIDs []int             `yaml:"event_ids"`
	Fields   map[string]string `yaml:"fields"`
}

// DefaultPipeline returns the built-in mappings (Windows, Linux, Zeek, Suricata).
func DefaultPipeline() *Pipeline {
	p := &Pipeline{Products: map[string]*ProductMap{}, Placeholders: map[string][]string{}}
	ents, _ := pipelineFS.ReadDir("pipelines")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		data, _ := pipelineFS.ReadFile("pipelines/" + n)
		if err := p.Add(data); err != nil {
			panic("sigma: built-in pipeline " + n + ": " + err.Error()) // caught by tests
		}
	}
	return p
}

// Add merges one more YAML pipeline document stream into p. Later mappings override earlier ones.
func (p *Pipeline) Add(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var pm ProductMap
		err := dec.Decode(&pm)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return socbot.E("sigma.Pipeline.Add", socbot.KindInvalid, err)
		}
		if pm.Product == "" {
			return socbot.FieldError("sigma.Pipeline.Add", "product", "missing")
		}
		old := p.Products[pm.Product]
		if old == nil {
			old = &ProductMap{Product: pm.Product, Services: map[string][]SourceSpec{}, Categories: map[string][]SourceSpec{}}
			p.Products[pm.Product] = old
		}
		for k, v := range pm.Services {
			old.Services[k] = v
		}
		for k, v := range pm.Categories {
			old.Categories[k] = v
		}
		for k, v := range pm.Placeholders {
			p.Placeholders[k] = v
		}
	}
}

// resolve returns the event sources a logsource maps to. productWide is true when the product is known
// but the category/service is not: the rule then applies to every event of that product.
func (p *Pipeline) resolve(ls LogSource) (specs []SourceSpec, known, productWide bool) {
	pm := p.Products[ls.Product]
	if pm == nil {
		return nil, false, false
	}
	if ls.Category != "" {
		if s, ok := pm.Categories[ls.Category]; ok {
			return s, true, false
		}
	}
	if ls.Service != "" {
		if s, ok := pm.Services[ls.Service]; ok {
			return s, true, false
		}
	}
	return nil, true, true
}
