package stix

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/socbot/socbot/intel"
)

// TestExportValidatesAgainstOASISSchemas checks every object of an exported bundle, and the bundle
// itself, against the official STIX 2.1 JSON schemas of the shared corpus.
func TestExportValidatesAgainstOASISSchemas(t *testing.T) {
	root := filepath.Join(corpusDir(t), "stix2-json-schemas", "schemas")
	c := jsonschema.NewCompiler()
	byName := map[string]string{} // "sdos/indicator.json" -> $id
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		byName[filepath.ToSlash(rel)] = id
		return c.AddResource(id, doc)
	})
	if err != nil {
		t.Fatal(err)
	}
	schemaFor := map[string]string{
		"indicator": "sdos/indicator.json", "identity": "sdos/identity.json", "relationship": "sros/relationship.json",
		"marking-definition": "common/marking-definition.json", "ipv4-addr": "observables/ipv4-addr.json",
		"ipv6-addr": "observables/ipv6-addr.json", "domain-name": "observables/domain-name.json", "url": "observables/url.json",
		"email-addr": "observables/email-addr.json", "file": "observables/file.json",
	}
	compiled := map[string]*jsonschema.Schema{}
	for typ, name := range schemaFor {
		s, err := c.Compile(byName[name])
		if err != nil {
			t.Fatalf("compiling %s: %v", name, err)
		}
		compiled[typ] = s
	}
	bundleSchema, err := c.Compile(byName["common/bundle.json"])
	if err != nil {
		t.Fatal(err)
	}
	b := exportTest(t, intel.TLPRed)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := bundleSchema.Validate(doc); err != nil {
		t.Errorf("bundle: %v", err)
	}
	r := NewReader(bytes.NewReader(b))
	seen := map[string]int{}
	for {
		var raw json.RawMessage
		err := r.Read(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		typ := v.(map[string]any)["type"].(string)
		s, ok := compiled[typ]
		if !ok {
			t.Errorf("no schema for exported type %s", typ)
			continue
		}
		seen[typ]++
		if err := s.Validate(v); err != nil {
			t.Errorf("%s %s: %v", typ, v.(map[string]any)["id"], err)
		}
	}
	for _, typ := range []string{"indicator", "identity", "relationship", "marking-definition", "ipv4-addr", "domain-name", "url", "file"} {
		if seen[typ] == 0 {
			t.Errorf("export has no %s object", typ)
		}
	}
	t.Logf("validated %v", seen)
	// the schemas do catch a broken indicator
	var bad map[string]any
	sdo, _ := json.Marshal(FromIndicator(&testIndicators()[0], 50))
	json.Unmarshal(sdo, &bad)
	delete(bad, "valid_from")
	bad["id"] = "indicator--not-a-uuid"
	raw, _ := json.Marshal(bad)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err := compiled["indicator"].Validate(v); err == nil {
		t.Error("an indicator without valid_from and with a bad id validated")
	}
}
