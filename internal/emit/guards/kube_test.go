package guards

import (
	"context"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/kubetest"
)

// TestDryRun has a real API server validate every emitted admission
// policy and binding (schema, CEL compilation, references) by server-side
// dry-run.
func TestDryRun(t *testing.T) {
	s := kubetest.Start(t)
	n := 0
	for _, gs := range goldenSpecs {
		for name, data := range emitFile(t, gs.path) {
			if !strings.HasSuffix(name, ".vap.yaml") {
				continue
			}
			n++
			if err := s.DryRun(context.Background(), data); err != nil {
				t.Errorf("%s %s: %v", gs.name, name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no admission policies emitted")
	}
}
