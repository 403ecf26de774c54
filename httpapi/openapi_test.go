package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// chiParam matches a chi path parameter, with an optional pattern.
var chiParam = regexp.MustCompile(`\{([^}:]+)(:[^}]*)?\}`)

// TestOpenAPIMatchesRoutes checks that the document describes exactly the
// routes the router serves, method by method.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	f := setup(t, Config{})
	router := newRouter(newServer(Config{Store: f.store}))
	served := map[string]bool{}
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[method+" "+chiParam.ReplaceAllString(route, "{$1}")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(served) < 14 {
		t.Errorf("chi.Walk found only %d routes: %v", len(served), served)
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("route %s is served but not in openapi.json", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("openapi.json describes %s, which is not served", r)
		}
	}
}

// TestOpenAPIConsistent checks what a code generator would trip on: every
// $ref resolves, every path parameter is declared, every operation has a
// success response and an id.
func TestOpenAPIConsistent(t *testing.T) {
	t.Parallel()
	var root map[string]any
	if err := json.Unmarshal(openAPI, &root); err != nil {
		t.Fatal(err)
	}
	walkJSON(root, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok && resolve(root, ref) == nil {
			t.Errorf("$ref %q does not resolve", ref)
		}
	})
	ids := map[string]bool{}
	paths, _ := root["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			op := op.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if _, ok := op["responses"].(map[string]any)["200"]; !ok {
				t.Errorf("%s %s: no 200 response", method, path)
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if ref, ok := p["$ref"].(string); ok {
					p = resolve(root, ref).(map[string]any)
				}
				if p["in"] == "path" {
					declared[p["name"].(string)] = true
				}
			}
			for _, m := range chiParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %q is not declared", method, path, m[1])
				}
			}
			if len(declared) != len(chiParam.FindAllString(path, -1)) {
				t.Errorf("%s %s: declares path parameters %v not in the path", method, path, declared)
			}
		}
	}
}

// TestOpenAPIServed checks that the document is served as is, without a token.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	f := setup(t, Config{Tokens: []Token{{Name: "a", Secret: "s", Role: RoleAdmin}}})
	w := f.get(t, "/api/v1/openapi.json")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), openAPI) {
		t.Errorf("GET /api/v1/openapi.json: status %d, %d bytes; want 200 and the embedded document", w.Code, w.Body.Len())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func walkJSON(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, e := range v {
			walkJSON(e, fn)
		}
	case []any:
		for _, e := range v {
			walkJSON(e, fn)
		}
	}
}

// resolve follows a local JSON pointer ("#/components/schemas/Run").
func resolve(root map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = root
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
