package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/discovery/nezha"
	"github.com/emac-dev/emac/internal/service"
)

// nezhaOB is the Nezha Online Boutique run (shared/data, MIT): beside the
// checkout, or where this machine keeps it.
var nezhaOB = sharedData("nezha/online-boutique-2022-08-22")

// sharedData finds a folder of the workplace's shared data: beside the
// checkout (../shared/data) or at /work/shared/data; "" when neither has
// it.
func sharedData(rel string) string {
	for _, root := range []string{"../../../shared/data", "/work/shared/data"} {
		p := filepath.Join(root, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestNezhaOnlineBoutique discovers the Online Boutique from the Nezha
// span tables: the service edges against the dataset's ground truth
// dependency.csv (F1 ≥ 0.95), the frontend's calls (sequential, as its Go
// handlers make them), and the labelled faults seen in their windows.
func TestNezhaOnlineBoutique(t *testing.T) {
	if nezhaOB == "" {
		t.Skip("the Nezha data is not on this machine")
	}
	d, err := service.Discover(context.Background(), []string{nezhaOB + "/trace", nezhaOB + "/fault_list.json"}, service.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Model
	f, err := os.Open(filepath.Join(nezhaOB, "dependency.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deps, err := nezha.ReadDependencies("dependency.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[[2]string]bool{}
	for _, dep := range deps {
		truth[[2]string{dep.Source, dep.Target}] = true
	}
	found := map[[2]string]bool{}
	for _, e := range m.Edges {
		found[[2]string{e.From, e.To}] = true
	}
	tp := 0
	for e := range found {
		if truth[e] {
			tp++
		} else {
			t.Logf("discovered %v, not in the ground truth", e)
		}
	}
	for e := range truth {
		if !found[e] {
			t.Logf("ground truth %v not discovered", e)
		}
	}
	precision, recall := float64(tp)/float64(len(found)), float64(tp)/float64(len(truth))
	f1 := 2 * precision * recall / (precision + recall)
	t.Logf("edges: %d discovered, %d in the ground truth, %d in both: precision %.3f, recall %.3f, F1 %.3f", len(found), len(truth), tp, precision, recall, f1)
	if f1 < 0.95 {
		t.Errorf("F1 = %.3f, want ≥ 0.95", f1)
	}

	// the frontend's calls: every two called in one request ran one after
	// the other
	var pairs, sequential int
	for _, fl := range m.Flows {
		if fl.Entry.Service != "frontend" || !fl.Root {
			continue
		}
		for _, p := range fl.Pairs {
			pairs++
			if p.Verdict == "sequential" {
				sequential++
			} else {
				t.Errorf("frontend: %s and %s %s (%d of %d overlapped)", p.A, p.B, p.Verdict, p.Overlapped, p.Together)
			}
		}
	}
	if pairs == 0 {
		t.Error("no frontend call pairs")
	}

	// faults: every one in a window with traffic enough to judge, other
	// than the frontend's (the entry, whose latency spreads widely across
	// its request types), shows
	visible := 0
	for _, fe := range m.Faults {
		if fe.Visible {
			visible++
		}
		if fe.Invocations >= 40 && fe.Service != "frontend" && !fe.Visible {
			t.Errorf("fault %s %s at %s: %d invocations, p90 %v against %v, not visible", fe.Service, fe.Type, fe.At, fe.Invocations, fe.P90, fe.BaselineP90)
		}
	}
	t.Logf("faults: %d of %d visible", visible, len(m.Faults))
	if len(m.Faults) != 24 {
		t.Errorf("%d faults read, want 24", len(m.Faults))
	}
}

// TestNezhaTrainTicket: the TrainTicket run loads.
func TestNezhaTrainTicket(t *testing.T) {
	dir := sharedData("nezha/train-ticket-2023-01-30")
	if dir == "" {
		t.Skip("the Nezha data is not on this machine")
	}
	d, err := service.Discover(context.Background(), []string{dir}, service.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Model
	spans := 0
	for _, in := range m.Inputs {
		spans += in.Spans
	}
	t.Logf("TrainTicket: %d inputs, %d spans, %d components, %d edges, %d flows, %d faults", len(m.Inputs), spans, len(m.Components), len(m.Edges), len(m.Flows), len(m.Faults))
	if spans == 0 || len(m.Edges) < 10 || len(m.Faults) != 17 {
		t.Errorf("TrainTicket: %d spans, %d edges, %d faults; want spans, ≥ 10 edges, 17 faults", spans, len(m.Edges), len(m.Faults))
	}
}

// TestDiscoverRoutes: mesh configuration among the inputs gives routes:
// Bookinfo's reviews split 80/20 as a branch, emojivoto's web-svc timeout
// and retry budget.
func TestDiscoverRoutes(t *testing.T) {
	mesh := "../discovery/mesh/testdata"
	d, err := service.Discover(context.Background(), []string{
		mesh + "/istio-bookinfo/samples/bookinfo/networking/virtual-service-reviews-80-20.yaml",
		mesh + "/linkerd-emojivoto/training/service-profiles/web-service-profile-with-timeout.yml",
	}, service.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range d.Model.Routes {
		got[r.Service] = append(got[r.Service], r.Canonical)
	}
	if want := "Branch(0.8: reviews/v1, 0.2: reviews/v2)"; len(got["reviews"]) != 1 || !strings.Contains(got["reviews"][0], want) {
		t.Errorf("reviews: %v, want %s", got["reviews"], want)
	}
	found := false
	for _, c := range got["web-svc"] {
		found = found || strings.Contains(c, "Timeout[after=500ms]")
	}
	if !found {
		t.Errorf("web-svc: %v, want a 500ms timeout", got["web-svc"])
	}
}

// TestInputKinds: mesh configuration is told by its apiVersion, not by a
// group's name anywhere in the head (a trace's pod labels name linkerd.io).
func TestInputKinds(t *testing.T) {
	for _, c := range []struct {
		head string
		mesh bool
	}{
		{"apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n", true},
		{`{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"}`, true},
		{"---\n# c\napiVersion: linkerd.io/v1alpha2\n", true},
		{`{"resourceSpans":[{"resource":{"attributes":[{"key":"k8s.pod.labels.linkerd.io/proxy-version","value":{"stringValue":"x"}}]}}]}`, false},
	} {
		if got := service.IsMesh([]byte(c.head)); got != c.mesh {
			t.Errorf("IsMesh(%q) = %v, want %v", c.head, got, c.mesh)
		}
	}
}
