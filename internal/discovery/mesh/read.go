package mesh

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
)

// Limits that keep a hostile or mistaken input from exhausting memory:
// a mesh configuration file is kilobytes; a cluster's dump of every
// VirtualService a few megabytes.
const (
	maxFileSize  = 64 << 20
	maxDocuments = 100000
)

// Read reads one file of mesh configuration, YAML (several documents
// separated by ---) or JSON, named name in positions. Documents of kinds it
// does not read are skipped: counted as discovery.Unsupported when they
// belong to a mesh API group (an Istio Gateway, a ServiceEntry), silently
// when they do not (a Deployment, a Service). Values it cannot use are
// problems with their positions; none stops the reading. The error is for
// the reader failing or ctx ending.
func Read(ctx context.Context, name string, r io.Reader) (*Config, []discovery.Problem, error) {
	b := &builder{}
	if err := b.read(ctx, name, r); err != nil {
		return nil, b.probs, err
	}
	return b.finish(), b.probs, nil
}

// ReadPaths reads files and directories (recursively: the *.yaml, *.yml
// and *.json files in them, in lexical order) and merges what they say
// into one Config. A file named twice is read once. Where two documents
// define the same thing, the later one in that order wins and a problem
// says so (see Config's merge rules in the package doc).
func ReadPaths(ctx context.Context, paths []string) (*Config, []discovery.Problem, error) {
	b := &builder{}
	seen := map[string]bool{}
	for _, root := range paths {
		var files []string
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			if p == root || isConfigFile(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, b.probs, err
		}
		for _, f := range files {
			c := filepath.Clean(f)
			if seen[c] {
				continue
			}
			seen[c] = true
			if err := b.readFile(ctx, f); err != nil {
				return nil, b.probs, err
			}
		}
	}
	return b.finish(), b.probs, nil
}

func isConfigFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func (b *builder) readFile(ctx context.Context, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return b.read(ctx, name, f)
}

// builder collects what the documents say, in reading order; finish
// resolves namespaces and merges it into policies.
type builder struct {
	probs    []discovery.Problem
	contribs []contrib
}

// contrib is what one document says about one policy.
type contrib struct {
	src     Source
	svc, ns string
	gateway bool
	hosts   []Value[string]
	// routing: the document defines the policy's routes (a
	// VirtualService, an HTTPRoute, a ServiceProfile); mergeable: its
	// routes add to those of other documents of its kind (Gateway API
	// merges the rules of the HTTPRoutes of one parent; Istio merges the
	// VirtualServices bound to one gateway) rather than replace them.
	routing   bool
	mergeable bool
	routes    []Route
	// rule: a DestinationRule's subsets and policy.
	rule    bool
	subsets []Subset
	traffic TrafficPolicy
	budget  *RetryBudget
}

func (b *builder) read(ctx context.Context, name string, r io.Reader) error {
	d := &doc{yamlnode.Doc{File: name, Probs: &b.probs}}
	data, ok, err := d.ReadAll(r, maxFileSize)
	if !ok {
		return err
	}
	return d.Documents(ctx, data, maxDocuments, func(root *yaml.Node) error {
		n := yamlnode.Resolve(root)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil // not a Kubernetes object: some other YAML file
		}
		if !d.TooAliased(n) {
			b.document(d, n, "", 0)
		}
		return nil
	})
}

// Mesh API groups: a document of one of these that is not read is
// counted as unsupported; any other kind is none of this reader's business.
func meshGroup(group string) bool {
	return strings.HasSuffix(group, "istio.io") || strings.HasSuffix(group, "linkerd.io") ||
		strings.HasPrefix(group, "gateway.networking.") || strings.HasSuffix(group, "smi-spec.io")
}

func (b *builder) document(d *doc, n *yaml.Node, path string, depth int) {
	o, ok := d.Mapping(n, path)
	if !ok {
		return
	}
	av, _ := scalar(o.Get("apiVersion"))
	kind, _ := scalar(o.Get("kind"))
	// A List (kubectl get -o yaml) or a typed list (VirtualServiceList)
	// holds objects in items.
	if depth == 0 && strings.HasSuffix(kind, "List") && o.Has("items") {
		for i, it := range d.Seq(o, "items") {
			if it = yamlnode.Resolve(it); it != nil && it.Kind == yaml.MappingNode {
				b.document(d, it, yamlnode.Index(o.At("items"), i), depth+1)
			}
		}
		return
	}
	group, version, _ := strings.Cut(av, "/")
	if version == "" {
		group, version = "", group
	}
	src := Source{APIVersion: av, Kind: kind, Pos: d.Pos(o.N, path)}
	if meta, ok := d.Sub(o, "metadata"); ok {
		nm, _ := d.str(meta, "name")
		ns, _ := d.str(meta, "namespace")
		src.Name, src.Namespace = nm.V, ns.V
	}
	switch {
	case group == "networking.istio.io" && oneOf(version, "v1alpha3", "v1beta1", "v1") && oneOf(kind, "VirtualService", "DestinationRule"):
		src.Mesh = Istio
		if kind == "VirtualService" {
			b.virtualService(d, o, src)
		} else {
			b.destinationRule(d, o, src)
		}
	case group == "gateway.networking.k8s.io" && oneOf(version, "v1", "v1beta1") && kind == "HTTPRoute":
		src.Mesh = GatewayAPI
		b.httpRoute(d, o, src)
	case group == "linkerd.io" && version == "v1alpha2" && kind == "ServiceProfile":
		src.Mesh = Linkerd
		b.serviceProfile(d, o, src)
	case meshGroup(group):
		d.Problem(discovery.Unsupported, o.N, path, "%s %s (%s) is not read", kind, src.Name, av)
	}
}

func scalar(n *yaml.Node) (string, bool) {
	n = yamlnode.Resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

func oneOf(s string, set ...string) bool { return slices.Contains(set, s) }

// splitHost turns a host into the short service name and namespace: the
// Kubernetes forms name, name.ns.svc and name.ns.svc.<cluster domain>. A
// bare name is in defaultNS. Any other host with dots (www.googleapis.com,
// and name.ns, which Istio too takes literally) is external and kept
// whole, with no namespace.
func splitHost(host, defaultNS string) (svc, ns string) {
	h := strings.TrimSuffix(host, ".")
	labels := strings.Split(h, ".")
	switch {
	case len(labels) >= 3 && labels[2] == "svc" && labels[0] != "" && labels[1] != "":
		return labels[0], labels[1]
	case len(labels) == 1:
		return h, defaultNS
	}
	return h, ""
}

func (b *builder) add(c contrib) { b.contribs = append(b.contribs, c) }

type policyKey struct {
	svc, ns string
	gateway bool
}

// finish merges the contributions into policies:
//
//   - a name whose namespace no document said (a bare host in a document
//     without metadata.namespace) joins the policy of that name in the one
//     namespace that has it, if there is exactly one;
//   - a document that defines the same object (kind, namespace, name) as an
//     earlier one replaces it, as kubectl apply would;
//   - routes: HTTPRoutes of one parent, and VirtualServices bound to one
//     gateway, add up in reading order; for a service's own routes a later
//     VirtualService or ServiceProfile replaces the earlier one (the mesh
//     would pick one of them; the conflict is reported);
//   - a later DestinationRule for a host replaces an earlier one (reported).
func (b *builder) finish() *Config {
	nss := map[policyKey]map[string]bool{}
	for _, c := range b.contribs {
		if c.ns != "" {
			k := policyKey{c.svc, "", c.gateway}
			if nss[k] == nil {
				nss[k] = map[string]bool{}
			}
			nss[k][c.ns] = true
		}
	}
	canon := func(svc, ns string, gateway bool) policyKey {
		if ns == "" {
			if set := nss[policyKey{svc, "", gateway}]; len(set) == 1 {
				for n := range set {
					ns = n
				}
			}
		}
		return policyKey{svc, ns, gateway}
	}
	type routeSet struct {
		src       Source
		mergeable bool
		routes    []Route
	}
	type state struct {
		p      *Policy
		sets   []routeSet
		rule   *Source
		budget *Source
	}
	states := map[policyKey]*state{}
	var order []policyKey
	for _, c := range b.contribs {
		k := canon(c.svc, c.ns, c.gateway)
		st := states[k]
		if st == nil {
			st = &state{p: &Policy{Service: k.svc, Namespace: k.ns, Gateway: k.gateway}}
			states[k] = st
			order = append(order, k)
		}
		p := st.p
		for _, h := range c.hosts {
			if !slices.ContainsFunc(p.Hosts, func(v Value[string]) bool { return v.V == h.V }) {
				p.Hosts = append(p.Hosts, h)
			}
		}
		if !slices.ContainsFunc(p.Sources, c.src.same) {
			p.Sources = append(p.Sources, c.src)
		}
		if c.routing {
			set := routeSet{c.src, c.mergeable, c.routes}
			replaced := false
			for i, s := range st.sets {
				if s.src.same(c.src) {
					b.conflict(c.src, s.src, "defines %s again; the later one is used", s.src)
					st.sets[i], replaced = set, true
					break
				}
			}
			if !replaced {
				switch {
				case len(st.sets) == 0:
					st.sets = []routeSet{set}
				case c.mergeable && st.sets[0].mergeable && st.sets[0].src.Kind == c.src.Kind:
					st.sets = append(st.sets, set)
				default:
					b.conflict(c.src, st.sets[0].src, "also routes %s, as %s does; the mesh applies one of them, the later one is used", name(k), st.sets[0].src)
					st.sets = []routeSet{set}
				}
			}
		}
		if c.rule {
			switch {
			case st.rule != nil && st.rule.same(c.src):
				b.conflict(c.src, *st.rule, "defines %s again; the later one is used", *st.rule)
			case st.rule != nil:
				b.conflict(c.src, *st.rule, "also sets the policy of %s, as %s does; the later one is used", name(k), *st.rule)
			}
			src := c.src
			st.rule = &src
			p.Subsets, p.TrafficPolicy = c.subsets, c.traffic
		}
		if c.budget != nil {
			p.RetryBudget = c.budget
		}
	}
	cfg := &Config{}
	for _, k := range order {
		st := states[k]
		st.p.Routes = nil
		for _, s := range st.sets {
			st.p.Routes = append(st.p.Routes, s.routes...)
		}
		cfg.Policies = append(cfg.Policies, st.p)
	}
	sort.SliceStable(cfg.Policies, func(i, j int) bool {
		a, b := cfg.Policies[i], cfg.Policies[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return !a.Gateway && b.Gateway
	})
	// A route to a subset no DestinationRule of its service defines
	// fails every request it takes (Envoy answers 503, no cluster): say so
	// when the service's DestinationRule was read.
	for _, p := range cfg.Policies {
		for _, r := range p.Routes {
			for _, be := range r.Backends {
				if be.Subset == "" {
					continue
				}
				st := states[canon(be.Service, be.Namespace, false)]
				if st == nil || st.rule == nil || st.p.Subset(be.Subset) != nil {
					continue
				}
				b.probs = append(b.probs, discovery.Problem{Kind: discovery.Corrupt, Pos: be.Pos,
					Detail: fmt.Sprintf("subset %q of %s is not defined by %s (%s): requests routed to it fail", be.Subset, be.Service, *st.rule, st.rule.Pos)})
			}
		}
	}
	// Problems in file order, so a report reads top to bottom; the merge
	// adds its own after reading.
	files := map[string]int{}
	for _, p := range b.probs {
		if _, ok := files[p.Pos.File]; !ok {
			files[p.Pos.File] = len(files)
		}
	}
	sort.SliceStable(b.probs, func(i, j int) bool {
		a, c := b.probs[i].Pos, b.probs[j].Pos
		if fa, fc := files[a.File], files[c.File]; fa != fc {
			return fa < fc
		}
		return a.Line < c.Line || a.Line == c.Line && a.Col < c.Col
	})
	return cfg
}

func name(k policyKey) string {
	s := k.svc
	if k.ns != "" {
		s = k.ns + "/" + s
	}
	if k.gateway {
		return "gateway " + s
	}
	return s
}

// conflict reports a document that overrides an earlier one. The problem
// is at the later document, which is the one kept.
func (b *builder) conflict(later, earlier Source, format string, args ...any) {
	b.probs = append(b.probs, discovery.Problem{Kind: discovery.Corrupt, Pos: later.Pos,
		Detail: fmt.Sprintf("%s %s (earlier at %s)", later, fmt.Sprintf(format, args...), earlier.Pos)})
}
