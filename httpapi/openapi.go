package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the hand-written description of every route; a test checks
// that it lists exactly the routes in routes.go.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	}
}
