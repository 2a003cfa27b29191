// Package kube reads a cluster's topology from what `kubectl get
// pods,nodes -o json` prints: for each pod, the service it belongs to and
// where it runs (node, zone, region, host, declared failure domain), each
// with the file:line:col it was read from. Discovery builds its
// failure-domain hypotheses from it (SPEC §7): pods of two services on one
// node or in one zone share that domain.
//
// The input is decoded from yaml.v3 nodes (JSON is YAML), not with the
// Kubernetes client types, so every value keeps its position and a bad one
// is a discovery.Problem at it rather than a failed decode. Pods come
// before nodes in kubectl's output, so the pods' placement is resolved
// once everything is read.
package kube

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/yamlnode"
)

// The labels read. Zone and region fall back to the deprecated beta
// labels older clusters still set; the failure domain is emac's own, on
// the pod or on its node.
const (
	LabelName           = "app.kubernetes.io/name"
	LabelApp            = "app"
	LabelZone           = "topology.kubernetes.io/zone"
	LabelZoneDeprecated = "failure-domain.beta.kubernetes.io/zone"
	LabelRegion         = "topology.kubernetes.io/region"
	LabelRegionDepr     = "failure-domain.beta.kubernetes.io/region"
	LabelHostname       = "kubernetes.io/hostname"
	LabelFailureDomain  = "emac.dev/failure-domain"
	labelTemplateHash   = "pod-template-hash"
)

// maxFileSize bounds one input: a yaml.v3 Node tree takes several times
// the text, and a large cluster's pods and nodes are tens of megabytes.
const maxFileSize = 256 << 20

// Attr is an attribute of a pod or node: its value, what it was derived
// from ("label app", "owner ReplicaSet web-7d9f8c6b5d", "node n1 label
// topology.kubernetes.io/zone"), and where that was written. Value is ""
// when unknown.
type Attr struct {
	Value string
	From  string
	Pos   discovery.Pos
}

// Pod is one pod and its placement.
type Pod struct {
	Name, Namespace string
	// Service is the service the pod belongs to: label
	// app.kubernetes.io/name, else app, else its controller's name with a
	// ReplicaSet's template hash removed (a Deployment's pods), else the
	// pod's own name (a bare pod is its own service).
	Service Attr
	// Node is spec.nodeName ("" while unscheduled).
	Node Attr
	// Zone, Region and Host come from the node's labels
	// topology.kubernetes.io/zone (or the deprecated
	// failure-domain.beta.kubernetes.io/zone), topology.kubernetes.io/region
	// (or its deprecated form) and kubernetes.io/hostname.
	Zone, Region, Host Attr
	// Domain is the failure domain declared by the label
	// emac.dev/failure-domain, on the pod, else on its node.
	Domain Attr
	// Phase is status.phase (Running, Pending, ...).
	Phase string
	// Labels are the pod's labels: what mesh subsets and selectors match.
	Labels map[string]string
	// Pos is the pod's object in the input.
	Pos discovery.Pos
}

// Placement is the pod's placement as spans carry it.
func (p *Pod) Placement() discovery.Placement {
	return discovery.Placement{Pod: p.Name, Node: p.Node.Value, Host: p.Host.Value, Zone: p.Zone.Value, Region: p.Region.Value, Domain: p.Domain.Value}
}

// Node is one node and its topology labels.
type Node struct {
	Name string
	// Zone, Region, Host and Domain are read from the labels as a Pod's
	// are (see Pod).
	Zone, Region, Host, Domain Attr
	// Labels are all the node's labels.
	Labels map[string]string
	// Pos is the node's object in the input.
	Pos discovery.Pos
}

// Topology is the pods and nodes read, in input order, with lookups by
// pod name, service and node name.
type Topology struct {
	// Pods and Nodes are in input order; a repeated object is kept once.
	Pods  []Pod
	Nodes []Node

	byName, byService map[string][]int
	byNode            map[string]int
}

// index builds the lookups; Read does it, and a lookup on a Topology built
// by hand does it on first use.
func (t *Topology) index() {
	t.byName, t.byService, t.byNode = map[string][]int{}, map[string][]int{}, map[string]int{}
	for i, p := range t.Pods {
		t.byName[p.Name] = append(t.byName[p.Name], i)
		t.byService[p.Service.Value] = append(t.byService[p.Service.Value], i)
	}
	for i, n := range t.Nodes {
		if _, dup := t.byNode[n.Name]; !dup {
			t.byNode[n.Name] = i
		}
	}
}

// Pod finds a pod by name, in any namespace (the first in input order), or
// nil.
func (t *Topology) Pod(name string) *Pod {
	if t.byName == nil {
		t.index()
	}
	if is := t.byName[name]; len(is) > 0 {
		return &t.Pods[is[0]]
	}
	return nil
}

// PodIn finds a pod by namespace and name, or nil.
func (t *Topology) PodIn(namespace, name string) *Pod {
	if t.byName == nil {
		t.index()
	}
	for _, i := range t.byName[name] {
		if t.Pods[i].Namespace == namespace {
			return &t.Pods[i]
		}
	}
	return nil
}

// Service lists the pods of a service, in every namespace, in input order.
func (t *Topology) Service(service string) []*Pod {
	if t.byService == nil {
		t.index()
	}
	var out []*Pod
	for _, i := range t.byService[service] {
		out = append(out, &t.Pods[i])
	}
	return out
}

// Services lists the services that have pods, sorted.
func (t *Topology) Services() []string {
	if t.byService == nil {
		t.index()
	}
	var out []string
	for s := range t.byService {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Node finds a node by name, or nil.
func (t *Topology) Node(name string) *Node {
	if t.byNode == nil {
		t.index()
	}
	if i, ok := t.byNode[name]; ok {
		return &t.Nodes[i]
	}
	return nil
}

// doc decodes the values of one document, reporting what it cannot use.
type doc struct{ yamlnode.Doc }

// boolean decodes a boolean field; absent, null or not a boolean
// (reported) is false.
func (d *doc) boolean(o *yamlnode.Obj, key string) bool {
	n := yamlnode.Resolve(o.Get(key))
	if yamlnode.IsNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.Problem(discovery.Corrupt, n, o.At(key), "want a boolean, got %s", diag.NodeKind(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// label is a label's value and where it was written.
type label struct {
	v   string
	pos discovery.Pos
}

type rawPod struct {
	Pod
	labels map[string]label
	owner  *Attr // the controller's (or first) owner reference's name
	ownerK string
}

type rawNode struct {
	Node
	labels map[string]label
}

type reader struct {
	probs []discovery.Problem
	pods  []rawPod
	nodes []rawNode
}

// Read reads the output of `kubectl get pods,nodes -o json` (a v1 List of
// Pods and Nodes; a single Pod or Node, a PodList or a NodeList too; YAML
// as well as JSON, several documents allowed), named name in positions.
// Objects of other kinds are skipped as discovery.Unsupported; bad values
// are problems at their positions. The error is for the reader failing or
// ctx ending.
func Read(ctx context.Context, name string, r io.Reader) (*Topology, []discovery.Problem, error) {
	rd := &reader{}
	d := &doc{yamlnode.Doc{File: name, Probs: &rd.probs}}
	data, ok, err := d.ReadAll(r, maxFileSize)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return rd.topology(), rd.probs, nil
	}
	err = d.Documents(ctx, data, 0, func(root *yaml.Node) error {
		if len(root.Content) == 0 {
			return nil
		}
		n := yamlnode.Resolve(root.Content[0])
		if n == nil || n.Kind != yaml.MappingNode {
			d.Problem(discovery.Unsupported, root.Content[0], "", "not a Kubernetes object")
			return nil
		}
		if d.TooAliased(n) {
			return nil
		}
		return rd.object(ctx, d, n, "", "")
	})
	if err != nil {
		return nil, rd.probs, err
	}
	return rd.topology(), rd.probs, nil
}

// object reads a Pod, a Node, or the items of a list; itemKind is the
// kind a typed list's items are (their own kind field is optional there).
func (rd *reader) object(ctx context.Context, d *doc, n *yaml.Node, path, itemKind string) error {
	o, ok := d.Mapping(n, path)
	if !ok {
		return nil
	}
	kind, _, _ := d.Str(o, "kind")
	av, _, _ := d.Str(o, "apiVersion")
	if itemKind != "" && kind == "" {
		kind, av = itemKind, "v1"
	}
	switch {
	case path == "" && (kind == "List" || kind == "PodList" || kind == "NodeList"):
		ik := strings.TrimSuffix(kind, "List")
		for i, it := range d.Seq(o, "items") {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := rd.object(ctx, d, it, yamlnode.Index(o.At("items"), i), ik); err != nil {
				return err
			}
		}
	case kind == "Pod" && (av == "v1" || av == ""):
		rd.pod(d, o)
	case kind == "Node" && (av == "v1" || av == ""):
		rd.node(d, o)
	default:
		what := kind
		if what == "" {
			what = "an object without a kind"
		}
		if av != "" {
			what += " (" + av + ")"
		}
		d.Problem(discovery.Unsupported, o.N, path, "%s is not read: only v1 Pods and Nodes are", what)
	}
	return nil
}

// metadata reads name, namespace and labels.
func (d *doc) metadata(o *yamlnode.Obj) (name, ns string, namePos discovery.Pos, labels map[string]label, meta *yamlnode.Obj, ok bool) {
	meta, _ = d.Sub(o, "metadata")
	name, namePos, ok = d.Str(meta, "name")
	if !ok {
		d.Problem(discovery.MissingField, o.N, o.At("metadata.name"), "the object has no metadata.name")
		return
	}
	ns, _, _ = d.Str(meta, "namespace")
	labels = map[string]label{}
	if lo, ok := d.Sub(meta, "labels"); ok {
		for _, k := range lo.Order {
			if v, p, ok := d.Str(lo, k); ok {
				labels[k] = label{v, p}
			}
		}
	}
	return name, ns, namePos, labels, meta, true
}

func (rd *reader) pod(d *doc, o *yamlnode.Obj) {
	name, ns, namePos, labels, meta, ok := d.metadata(o)
	if !ok {
		return
	}
	p := rawPod{Pod: Pod{Name: name, Namespace: ns, Pos: d.Pos(o.N, o.Path)}, labels: labels}
	for i, ref := range d.Seq(meta, "ownerReferences") {
		ro, ok := d.Mapping(ref, yamlnode.Index(meta.At("ownerReferences"), i))
		if !ok {
			continue
		}
		on, opos, ok := d.Str(ro, "name")
		if !ok {
			d.Problem(discovery.MissingField, ro.N, ro.At("name"), "the owner reference has no name")
			continue
		}
		kind, _, _ := d.Str(ro, "kind")
		// The controller is the owner that made the pod; without one
		// marked, the first.
		if ctl := d.boolean(ro, "controller"); p.owner == nil || ctl {
			p.owner, p.ownerK = &Attr{Value: on, Pos: opos}, kind
			if ctl {
				break
			}
		}
	}
	if spec, ok := d.Sub(o, "spec"); ok {
		if v, pos, ok := d.Str(spec, "nodeName"); ok {
			p.Node = Attr{Value: v, From: "spec.nodeName", Pos: pos}
		}
	}
	if st, ok := d.Sub(o, "status"); ok {
		p.Phase, _, _ = d.Str(st, "phase")
	}
	switch {
	case labels[LabelName].v != "":
		p.Service = Attr{Value: labels[LabelName].v, From: "label " + LabelName, Pos: labels[LabelName].pos}
	case labels[LabelApp].v != "":
		p.Service = Attr{Value: labels[LabelApp].v, From: "label " + LabelApp, Pos: labels[LabelApp].pos}
	case p.owner != nil:
		v := p.owner.Value
		if p.ownerK == "ReplicaSet" {
			v = stripHash(v, labels[labelTemplateHash].v)
		}
		p.Service = Attr{Value: v, From: strings.TrimSpace("owner " + p.ownerK + " " + p.owner.Value), Pos: p.owner.Pos}
	default:
		p.Service = Attr{Value: name, From: "pod name", Pos: namePos}
	}
	rd.pods = append(rd.pods, p)
}

// A ReplicaSet a Deployment made is named <deployment>-<hash>, the hash in
// the alphabet Kubernetes' SafeEncodeString uses (no vowels, no 0, 1, 3).
var rsHash = regexp.MustCompile(`-[bcdfghjklmnpqrstvwxz2456789]{6,10}$`)

// stripHash removes a ReplicaSet's template hash: the pod-template-hash
// label's value when the name ends with it, else a suffix that looks like
// one.
func stripHash(rs, hash string) string {
	if hash != "" && strings.HasSuffix(rs, "-"+hash) && len(rs) > len(hash)+1 {
		return strings.TrimSuffix(rs, "-"+hash)
	}
	if loc := rsHash.FindStringIndex(rs); loc != nil && loc[0] > 0 {
		return rs[:loc[0]]
	}
	return rs
}

func (rd *reader) node(d *doc, o *yamlnode.Obj) {
	name, _, _, labels, _, ok := d.metadata(o)
	if !ok {
		return
	}
	n := rawNode{Node: Node{Name: name, Pos: d.Pos(o.N, o.Path)}, labels: labels}
	from := func(keys ...string) Attr {
		for _, k := range keys {
			if l, ok := labels[k]; ok && l.v != "" {
				return Attr{Value: l.v, From: "node " + name + " label " + k, Pos: l.pos}
			}
		}
		return Attr{}
	}
	n.Zone = from(LabelZone, LabelZoneDeprecated)
	n.Region = from(LabelRegion, LabelRegionDepr)
	n.Host = from(LabelHostname)
	n.Domain = from(LabelFailureDomain)
	rd.nodes = append(rd.nodes, n)
}

// topology resolves each pod's placement from its node and drops
// duplicates (the first of an object is kept).
func (rd *reader) topology() *Topology {
	// Capacity for every node up front: nodes points into the slice.
	t := &Topology{Nodes: make([]Node, 0, len(rd.nodes))}
	nodes := map[string]*Node{}
	for _, rn := range rd.nodes {
		if prev, dup := nodes[rn.Name]; dup {
			rd.probs = append(rd.probs, discovery.Problem{Kind: discovery.Corrupt, Pos: rn.Pos,
				Detail: fmt.Sprintf("node %s appears again (first at %s); the first is kept", rn.Name, prev.Pos)})
			continue
		}
		n := rn.Node
		n.Labels = plain(rn.labels)
		t.Nodes = append(t.Nodes, n)
		nodes[n.Name] = &t.Nodes[len(t.Nodes)-1]
	}
	seen := map[[2]string]discovery.Pos{}
	for _, rp := range rd.pods {
		k := [2]string{rp.Namespace, rp.Name}
		if prev, dup := seen[k]; dup {
			rd.probs = append(rd.probs, discovery.Problem{Kind: discovery.Corrupt, Pos: rp.Pos,
				Detail: fmt.Sprintf("pod %s/%s appears again (first at %s); the first is kept", rp.Namespace, rp.Name, prev)})
			continue
		}
		seen[k] = rp.Pos
		p := rp.Pod
		p.Labels = plain(rp.labels)
		if l, ok := rp.labels[LabelFailureDomain]; ok && l.v != "" {
			p.Domain = Attr{Value: l.v, From: "label " + LabelFailureDomain, Pos: l.pos}
		}
		if n := nodes[p.Node.Value]; n != nil {
			p.Zone, p.Region, p.Host = n.Zone, n.Region, n.Host
			if p.Domain.Value == "" {
				p.Domain = n.Domain
			}
		} else if p.Node.Value != "" && len(rd.nodes) > 0 {
			// Only when nodes were given: a pods-only input says
			// nothing about zones, and that is no problem.
			rd.probs = append(rd.probs, discovery.Problem{Kind: discovery.MissingField, Pos: p.Node.Pos,
				Detail: fmt.Sprintf("pod %s runs on node %s, which is not in the input: its zone is unknown", p.Name, p.Node.Value)})
		}
		t.Pods = append(t.Pods, p)
	}
	t.index()
	return t
}

func plain(ls map[string]label) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	m := make(map[string]string, len(ls))
	for k, l := range ls {
		m[k] = l.v
	}
	return m
}
