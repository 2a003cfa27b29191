package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/google/go-cmp/cmp"
)

const (
	fixture = "testdata/pods-nodes.json"
	n1      = "gke-shop-pool-1-8c2e4f1a-x7k2"
	n2      = "gke-shop-pool-1-8c2e4f1a-m9p4"
	n3      = "gke-shop-pool-1-d41b9e07-q2w8"
)

func readFile(t *testing.T, name string) (*Topology, []discovery.Problem) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	topo, probs, err := Read(context.Background(), name, f)
	if err != nil {
		t.Fatal(err)
	}
	return topo, probs
}

// placed is a pod reduced to its placement, for a readable diff.
type placed struct {
	Name, Service, ServiceFrom, Node, Zone, Region, Host, Domain, DomainFrom string
}

func TestFixture(t *testing.T) {
	topo, probs := readFile(t, fixture)
	if len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
	var got []placed
	for _, p := range topo.Pods {
		got = append(got, placed{p.Name, p.Service.Value, p.Service.From, p.Node.Value, p.Zone.Value, p.Region.Value, p.Host.Value, p.Domain.Value, p.Domain.From})
	}
	want := []placed{
		{"frontend-7d9f8c6b5d-w4xlz", "frontend", "label app.kubernetes.io/name", n1, "europe-west1-b", "europe-west1", n1, "", ""},
		// n3 has only the deprecated zone and region labels.
		{"frontend-7d9f8c6b5d-9hq2m", "frontend", "label app.kubernetes.io/name", n3, "europe-west1-c", "europe-west1", n3, "", ""},
		{"cartservice-5c8d7f9b6-k2m4n", "cartservice", "label app", n2, "europe-west1-b", "europe-west1", n2, "rack-b7", "node " + n2 + " label emac.dev/failure-domain"},
		// No app label: the owner ReplicaSet's name, hash removed.
		{"checkoutservice-6b8c9d7f54-p9q8r", "checkoutservice", "owner ReplicaSet checkoutservice-6b8c9d7f54", n1, "europe-west1-b", "europe-west1", n1, "", ""},
		// The pod's own failure-domain label wins over its node's.
		{"redis-cart-0", "redis-cart", "label app", n2, "europe-west1-b", "europe-west1", n2, "redis-primary", "label emac.dev/failure-domain"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	var nodes []string
	for _, n := range topo.Nodes {
		nodes = append(nodes, fmt.Sprintf("%s %s %s %s", n.Name, n.Zone.Value, n.Region.Value, n.Domain.Value))
	}
	wantNodes := []string{n1 + " europe-west1-b europe-west1 ", n2 + " europe-west1-b europe-west1 rack-b7", n3 + " europe-west1-c europe-west1 "}
	if diff := cmp.Diff(wantNodes, nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if got, want := topo.Node(n3).Zone.From, "node "+n3+" label "+LabelZoneDeprecated; got != want {
		t.Errorf("n3 zone from: got %q, want %q", got, want)
	}
}

// locate finds the line and column of value in the line of the fixture
// that contains context: the position a reader should report for it.
func locate(t *testing.T, file, context, value string) discovery.Pos {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, context) {
			return discovery.Pos{File: file, Line: i + 1, Col: strings.Index(line, value) + 1}
		}
	}
	t.Fatalf("%s: no line contains %q", file, context)
	return discovery.Pos{}
}

func TestPositions(t *testing.T) {
	topo, _ := readFile(t, fixture)
	at := func(p discovery.Pos) discovery.Pos { p.Record = ""; return p }
	tests := []struct {
		what      string
		got, want discovery.Pos
	}{
		{"frontend service", at(topo.Pod("frontend-7d9f8c6b5d-w4xlz").Service.Pos), locate(t, fixture, `"app.kubernetes.io/name": "frontend"`, `"frontend"`)},
		{"checkout owner", at(topo.Pod("checkoutservice-6b8c9d7f54-p9q8r").Service.Pos), locate(t, fixture, `"name": "checkoutservice-6b8c9d7f54",`, `"checkoutservice-6b8c9d7f54"`)},
		{"redis domain", at(topo.Pod("redis-cart-0").Domain.Pos), locate(t, fixture, `"emac.dev/failure-domain": "redis-primary"`, `"redis-primary"`)},
		{"cart domain", at(topo.Pod("cartservice-5c8d7f9b6-k2m4n").Domain.Pos), locate(t, fixture, `"emac.dev/failure-domain": "rack-b7"`, `"rack-b7"`)},
		{"n3 zone", at(topo.Node(n3).Zone.Pos), locate(t, fixture, `"failure-domain.beta.kubernetes.io/zone": "europe-west1-c"`, `"europe-west1-c"`)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.what, tt.got, tt.want)
		}
	}
	if got, want := topo.Pod("redis-cart-0").Domain.Pos.Record, "items[4].metadata.labels.emac.dev/failure-domain"; got != want {
		t.Errorf("record: got %q, want %q", got, want)
	}
}

func TestLookups(t *testing.T) {
	topo, _ := readFile(t, fixture)
	if diff := cmp.Diff([]string{"cartservice", "checkoutservice", "frontend", "redis-cart"}, topo.Services()); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	var fe []string
	for _, p := range topo.Service("frontend") {
		fe = append(fe, p.Name+"@"+p.Zone.Value)
	}
	if diff := cmp.Diff([]string{"frontend-7d9f8c6b5d-w4xlz@europe-west1-b", "frontend-7d9f8c6b5d-9hq2m@europe-west1-c"}, fe); diff != "" {
		t.Errorf("frontend pods (-want +got):\n%s", diff)
	}
	if p := topo.PodIn("shop", "redis-cart-0"); p == nil || p.Labels["statefulset.kubernetes.io/pod-name"] != "redis-cart-0" {
		t.Errorf("PodIn(shop, redis-cart-0): got %+v", p)
	}
	if p := topo.PodIn("default", "redis-cart-0"); p != nil {
		t.Errorf("PodIn(default, redis-cart-0): got %+v, want nil", p)
	}
	if topo.Pod("nope") != nil || topo.Node("nope") != nil || topo.Service("nope") != nil {
		t.Errorf("lookups of missing names: want nil")
	}
	want := discovery.Placement{Pod: "redis-cart-0", Node: n2, Host: n2, Zone: "europe-west1-b", Region: "europe-west1", Domain: "redis-primary"}
	if got := topo.Pod("redis-cart-0").Placement(); got != want {
		t.Errorf("Placement: got %+v, want %+v", got, want)
	}
	// A Topology built by hand is indexed on first use.
	hand := &Topology{Pods: []Pod{{Name: "a", Service: Attr{Value: "s"}}}}
	if hand.Pod("a") == nil || len(hand.Service("s")) != 1 {
		t.Errorf("hand-built topology: lookups failed")
	}
}

func TestInputs(t *testing.T) {
	const node = `{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}`
	tests := []struct {
		name, in string
		pods     []string // "name service zone"
		problems []string // "line:col kind: detail"
	}{
		{"single pod", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "labels": {"app": "web"}}, "spec": {"nodeName": "n1"}}`,
			[]string{"web-0 web "}, nil},
		{"pod then node, as YAML documents", "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, labels: {app: web}}\nspec: {nodeName: n1}\n---\n" + node,
			[]string{"web-0 web z1"}, nil},
		{"PodList items without kind", `{"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "p", "labels": {"app.kubernetes.io/name": "api"}}}]}`,
			[]string{"p api "}, nil},
		{"NodeList", `{"apiVersion": "v1", "kind": "NodeList", "items": [{"metadata": {"name": "n1"}}]}`, nil, nil},
		{"bare pod is its own service", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}}`, []string{"debug debug "}, nil},
		{"controller owner wins", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "ownerReferences": [
  {"kind": "Node", "name": "n1"},
  {"kind": "ReplicaSet", "name": "api-5d8f7c9b6d", "controller": true}]}}`, []string{"x api "}, nil},
		{"other kinds are skipped", `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
  {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "Pod", "metadata": {"name": "m"}}]}`, nil,
			[]string{"2:3 unsupported: Service (v1) is not read: only v1 Pods and Nodes are",
				"3:3 unsupported: Pod (metrics.k8s.io/v1beta1) is not read: only v1 Pods and Nodes are"}},
		{"no name", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "web"}}}`, nil,
			[]string{"1:1 missing-field: the object has no metadata.name"}},
		{"wrong types", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": 5},
  "ownerReferences": [{"kind": "ReplicaSet", "name": "api-5d8f7c9b6d", "controller": "yes"}]}, "spec": {"nodeName": ["n1"]}}`,
			[]string{"p api "},
			[]string{"1:81 corrupt: want a string, got a number", "2:86 corrupt: want a boolean, got a string", "2:117 corrupt: want a string, got a list"}},
		{"node not in the input", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p, labels: {app: a}}, spec: {nodeName: n9}}\n- " + node,
			[]string{"p a "}, []string{"4:87 missing-field: pod p runs on node n9, which is not in the input: its zone is unknown"}},
		{"duplicate pod", "apiVersion: v1\nkind: List\nitems:\n- {kind: Pod, metadata: {name: p, namespace: ns, labels: {app: a}}}\n- {kind: Pod, metadata: {name: p, namespace: ns, labels: {app: b}}}\n",
			[]string{"p a "}, []string{"5:3 corrupt: pod ns/p appears again (first at x:4:3 (items[0])); the first is kept"}},
		{"not an object", "- 1\n- 2\n", nil, []string{"1:1 unsupported: not a Kubernetes object"}},
		{"syntax error keeps what came before", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\nkind: [\n", []string{"p p "},
			[]string{"5:0 corrupt: invalid YAML: did not find expected node content"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo, probs, err := Read(context.Background(), "x", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var pods, ps []string
			for _, p := range topo.Pods {
				pods = append(pods, p.Name+" "+p.Service.Value+" "+p.Zone.Value)
			}
			for _, p := range probs {
				ps = append(ps, fmt.Sprintf("%d:%d %s: %s", p.Pos.Line, p.Pos.Col, p.Kind, p.Detail))
			}
			if diff := cmp.Diff(tt.pods, pods); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.problems, ps); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripHash(t *testing.T) {
	tests := []struct{ rs, hash, want string }{
		{"frontend-7d9f8c6b5d", "7d9f8c6b5d", "frontend"},
		{"frontend-7d9f8c6b5d", "", "frontend"},
		{"cart-service-5c8d7f9b6", "", "cart-service"},
		{"legacy-api", "", "legacy-api"},           // vowels: not a hash
		{"web-db", "", "web-db"},                   // too short for a hash
		{"x-abc", "abc", "x"},                      // the label says so
		{"7d9f8c6b5d", "7d9f8c6b5d", "7d9f8c6b5d"}, // nothing would be left
	}
	for _, tt := range tests {
		if got := stripHash(tt.rs, tt.hash); got != tt.want {
			t.Errorf("stripHash(%q, %q): got %q, want %q", tt.rs, tt.hash, got, tt.want)
		}
	}
}

func TestCancelledAndAliases(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Read(ctx, "x", strings.NewReader("kind: Pod\n")); err == nil {
		t.Errorf("Read with a cancelled context: got no error")
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nx:\n  a0: &a0 [{kind: Pod, metadata: {name: p}}]\n")
	for i := 1; i <= 12; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "  a%d: &a%d [%s, %s, %s, %s]\n", i, i, p, p, p, p)
	}
	b.WriteString("items: *a12\n")
	topo, probs, err := Read(context.Background(), "x", strings.NewReader(b.String()))
	if err != nil || len(topo.Pods) != 0 || len(probs) != 1 || !strings.Contains(probs[0].Detail, "aliases expand") {
		t.Errorf("alias bomb: got %d pods, %v, %v; want it refused", len(topo.Pods), probs, err)
	}
}
