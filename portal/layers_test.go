package portal

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers: the service's imports point one way (docs/ARCHITECTURE.md):
// the transports over the core, the core over the store's interface, the
// engines below it; the core imports no HTTP, and nothing above the store
// imports an engine.
func TestLayers(t *testing.T) {
	forbidden := map[string][]string{
		"core":            {"net/http", "ibkey/portal", "ibkey/portal/web", "ibkey/portal/store/sqlite", "ibkey/portal/store/postgres", "ibkey/portal/store/internal/sqlrec"},
		"web":             {"ibkey/portal", "ibkey/portal/store/sqlite", "ibkey/portal/store/postgres", "ibkey/portal/store/internal/sqlrec"},
		".":               {"ibkey/portal/store/sqlite", "ibkey/portal/store/postgres", "ibkey/portal/store/internal/sqlrec"},
		"store":           {"ibkey/portal", "ibkey/portal/core", "ibkey/portal/web", "net/http"},
		"store/sqlite":    {"ibkey/portal", "ibkey/portal/core", "ibkey/portal/web", "ibkey/portal/store/postgres"},
		"store/postgres":  {"ibkey/portal", "ibkey/portal/core", "ibkey/portal/web", "ibkey/portal/store/sqlite"},
		"store/storetest": {"ibkey/portal", "ibkey/portal/core", "ibkey/portal/web"},
	}
	for dir, bad := range forbidden {
		p, err := build.ImportDir(filepath.FromSlash(dir), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			if slices.Contains(bad, imp) || (strings.HasPrefix(imp, "ibkey/app") || imp == "ibkey/platform") {
				t.Errorf("portal/%s imports %s", dir, imp)
			}
		}
	}
}
