package httpapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"
)

// openapiCore is the hand-written OpenAPI 3.1 description of the core routes. Feature files add their
// own fragments (paths and component schemas) with addOpenAPI; the served document is the merge, and a
// test holds it to the real routes.
//
//go:embed openapi.json
var openapiCore []byte

var (
	openapiFragments [][]byte
	openapiOnce      sync.Once
	openapiDoc       []byte
)

// addOpenAPI registers a fragment: a JSON object with "paths" and optionally "components.schemas".
// Feature files call it from init.
func addOpenAPI(fragment []byte) { openapiFragments = append(openapiFragments, fragment) }

// openAPI returns the merged document.
func openAPI() []byte {
	openapiOnce.Do(func() {
		var doc map[string]any
		if err := json.Unmarshal(openapiCore, &doc); err != nil {
			panic("httpapi: openapi.json: " + err.Error())
		}
		paths := doc["paths"].(map[string]any)
		schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
		for _, f := range openapiFragments {
			var frag struct {
				Paths      map[string]any `json:"paths"`
				Components struct {
					Schemas map[string]any `json:"schemas"`
				} `json:"components"`
			}
			if err := json.Unmarshal(f, &frag); err != nil {
				panic("httpapi: OpenAPI fragment: " + err.Error())
			}
			for k, v := range frag.Paths {
				paths[k] = v
			}
			for k, v := range frag.Components.Schemas {
				schemas[k] = v
			}
		}
		openapiDoc, _ = json.MarshalIndent(doc, "", " ")
	})
	return openapiDoc
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI())
}
