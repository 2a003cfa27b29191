package spec

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/promql"
	"github.com/emac-dev/emac/internal/slo"
)

// DefaultWindow is the objective window when a spec gives none.
const DefaultWindow = 30 * 24 * time.Hour

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// entry is a component definition with where it was declared.
type entry struct {
	name  string
	def   v1alpha1.Component
	doc   *document
	path  string // field path of the component in doc
	owner string // "" for the journey itself, else the catalog's name
	comp  *model.Component
	ok    bool
	done  bool
}

type catalogInfo struct {
	doc      *document
	cat      *v1alpha1.ComponentCatalog
	entries  map[string]*entry
	domains  map[string]v1alpha1.FailureDomain
	visiting bool
	closed   bool
	// all is the catalog with its includes, by name
	all        map[string]*entry
	allDomains map[string]v1alpha1.FailureDomain
}

func (l *loader) resolve(b *Bundle) {
	catalogs := map[string]*catalogInfo{}
	for _, d := range l.docs {
		if d.catalog == nil {
			continue
		}
		name := d.catalog.Metadata.Name
		if name == "" {
			l.diags.Errorf(d.at("metadata"), "catalog has no metadata.name")
			continue
		}
		if prev, dup := catalogs[name]; dup {
			dg := l.diags.Errorf(d.at("metadata.name"), "catalog %q is declared twice", name)
			dg.Detail = "first declared at " + prev.doc.at("metadata.name").String()
			continue
		}
		ci := &catalogInfo{doc: d, cat: d.catalog, entries: map[string]*entry{}, domains: d.catalog.Spec.FailureDomains}
		for _, n := range slices.Sorted(maps.Keys(d.catalog.Spec.Components)) {
			ci.entries[n] = &entry{name: n, def: d.catalog.Spec.Components[n], doc: d, path: "spec.components." + n, owner: name}
		}
		catalogs[name] = ci
	}
	for _, name := range slices.Sorted(maps.Keys(catalogs)) {
		l.closeCatalog(catalogs, catalogs[name])
	}
	seen := map[string]*document{}
	for _, d := range l.docs {
		if d.journey == nil {
			continue
		}
		j := l.journey(d, catalogs)
		if j == nil {
			continue
		}
		if prev, dup := seen[j.Name]; dup {
			dg := l.diags.Errorf(d.at("metadata.name"), "journey %q is declared twice", j.Name)
			dg.Detail = "first declared at " + prev.at("metadata.name").String()
			continue
		}
		seen[j.Name] = d
		b.Journeys = append(b.Journeys, j)
		b.Specs = append(b.Specs, d.journey)
	}
}

// closeCatalog gathers a catalog's includes, reporting cycles.
func (l *loader) closeCatalog(all map[string]*catalogInfo, c *catalogInfo) {
	if c.closed {
		return
	}
	c.visiting = true
	c.all = map[string]*entry{}
	c.allDomains = map[string]v1alpha1.FailureDomain{}
	for k, v := range c.entries {
		c.all[k] = v
	}
	for k, v := range c.domains {
		c.allDomains[k] = v
	}
	for i, inc := range c.cat.Spec.Include {
		p := fmt.Sprintf("spec.include[%d]", i)
		o, ok := all[inc]
		if !ok {
			dg := l.diags.Errorf(c.doc.at(p), "unknown catalog %q", inc)
			dg.Detail = diag.DidYouMean(inc, slices.Sorted(maps.Keys(all)))
			continue
		}
		if o.visiting {
			l.diags.Errorf(c.doc.at(p), "catalog include cycle: %s includes %s, which includes it back", c.cat.Metadata.Name, inc)
			continue
		}
		l.closeCatalog(all, o)
		for k, v := range o.all {
			if prev, dup := c.all[k]; dup && prev != v {
				dg := l.diags.Errorf(c.doc.at(p), "component %q is defined both in catalog %q and in %q", k, prev.owner, v.owner)
				dg.Detail = "define each shared component once"
				continue
			}
			c.all[k] = v
		}
		for k, v := range o.allDomains {
			c.allDomains[k] = v
		}
	}
	c.visiting = false
	c.closed = true
}

func (l *loader) journey(d *document, catalogs map[string]*catalogInfo) *model.Journey {
	js := d.journey
	errs := len(l.diags)
	j := &model.Journey{Name: js.Metadata.Name, Source: d.file, Labels: js.Metadata.Labels,
		Components: map[string]*model.Component{}, Domains: map[string]*model.Domain{}}
	switch {
	case j.Name == "":
		l.diags.Errorf(d.at("metadata"), "journey has no metadata.name")
	case len(j.Name) > 63 || !dns1123.MatchString(j.Name):
		dg := l.diags.Errorf(d.at("metadata.name"), "journey name %q is not a DNS-1123 label", j.Name)
		dg.Detail = "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
	}
	l.objectives(d, j)

	// components visible to the flow
	entries := map[string]*entry{}
	domainDecl := map[string]v1alpha1.FailureDomain{}
	for i, cn := range js.Spec.Catalogs {
		c, ok := catalogs[cn]
		if !ok {
			dg := l.diags.Errorf(d.at(fmt.Sprintf("spec.catalogs[%d]", i)), "unknown catalog %q", cn)
			dg.Detail = diag.DidYouMean(cn, slices.Sorted(maps.Keys(catalogs)))
			continue
		}
		for k, v := range c.all {
			if prev, dup := entries[k]; dup && prev != v {
				l.diags.Errorf(d.at(fmt.Sprintf("spec.catalogs[%d]", i)), "component %q is defined both in catalog %q and in %q", k, prev.owner, v.owner)
				continue
			}
			entries[k] = v
		}
		for k, v := range c.allDomains {
			domainDecl[k] = v
		}
	}
	for _, n := range slices.Sorted(maps.Keys(js.Spec.Components)) {
		p := "spec.components." + n
		if prev, dup := entries[n]; dup {
			dg := l.diags.Errorf(d.keyAt(p), "component %q is already defined in catalog %q", n, prev.owner)
			dg.Detail = "remove one of the two definitions"
			continue
		}
		entries[n] = &entry{name: n, def: js.Spec.Components[n], doc: d, path: p}
	}
	for k, v := range js.Spec.FailureDomains {
		domainDecl[k] = v
	}

	// flow
	used := map[string]bool{}
	if js.Spec.Flow == nil {
		l.diags.Errorf(d.at("spec"), "journey has no flow").Detail = "add spec.flow, e.g. seq: [front, backend]"
	} else {
		j.Flow = l.flow(d, js.Spec.Flow, "spec.flow", entries, used)
	}
	for _, n := range slices.Sorted(maps.Keys(used)) {
		e := entries[n]
		if e == nil {
			continue
		}
		l.component(e)
		if e.ok {
			j.Components[n] = e.comp
		}
	}
	for _, n := range slices.Sorted(maps.Keys(js.Spec.Components)) {
		if !used[n] {
			l.diags.Warnf(d.keyAt("spec.components."+n), "component %q is not used by the flow", n)
		}
	}
	l.domains(d, j, domainDecl, js.Spec.FailureDomains)
	if js.Spec.Telemetry != nil {
		j.Telemetry = l.telemetry(d, "spec.telemetry", js.Spec.Telemetry)
	}
	l.governance(d, j, js.Spec.Governance)
	if d.failed || l.diags[errs:].HasErrors() {
		return nil
	}
	if err := j.Validate(); err != nil {
		l.diags.Errorf(d.at("spec"), "internal: %v", err)
		return nil
	}
	return j
}

func (l *loader) objectives(d *document, j *model.Journey) {
	o := d.journey.Spec.Objectives
	t := float64(o.Availability.Target)
	switch {
	case d.bad["spec.objectives.availability.target"]:
	case t == 0:
		if _, ok := d.pos["spec.objectives.availability.target"]; !ok {
			l.diags.Errorf(d.at("spec.objectives"), "journey has no availability target").Detail = "add spec.objectives.availability.target, e.g. 99.5%"
			break
		}
		fallthrough
	case !(t > 0 && t < 1):
		l.outside(d, "spec.objectives.availability.target", t)
	}
	j.Objective.Availability = t
	j.Objective.Window = time.Duration(o.Availability.Window)
	if j.Objective.Window == 0 {
		j.Objective.Window = DefaultWindow
	} else if j.Objective.Window < time.Minute {
		l.diags.Errorf(d.at("spec.objectives.availability.window"), "objective window %s is shorter than a minute", o.Availability.Window)
	}
	if lat := o.Latency; lat != nil {
		if !(lat.Percentile > 0 && lat.Percentile < 100) {
			l.diags.Errorf(d.at("spec.objectives.latency.percentile"), "latency percentile %v is outside (0,100)", lat.Percentile).Detail = "e.g. percentile: 99"
		}
		if lat.Threshold <= 0 {
			l.diags.Errorf(d.at("spec.objectives.latency.threshold"), "latency threshold must be positive").Detail = "e.g. threshold: 400ms"
		}
		j.Objective.Latency = &model.LatencyObjective{Percentile: lat.Percentile, Threshold: time.Duration(lat.Threshold)}
	}
}

// outside reports a probability outside (0,1), suggesting a percent sign
// when the number looks like a percentage.
func (l *loader) outside(d *document, p string, v float64) {
	dg := l.diags.Errorf(d.at(p), "target %v is outside (0,1)", v)
	if v > 1 && v < 100 {
		dg.Detail = fmt.Sprintf("did you mean \"%v%%\"?", v)
	} else if v >= 1 {
		dg.Detail = "a target of 100% leaves no error budget"
	}
}

var opFields = []string{"call", "seq", "all", "race", "fallback", "quorum", "branch", "retry", "timeout", "optional", "async"}

func setOps(n *v1alpha1.Node) []string {
	var ops []string
	if n.Call != "" {
		ops = append(ops, "call")
	}
	if n.Seq != nil {
		ops = append(ops, "seq")
	}
	if n.All != nil {
		ops = append(ops, "all")
	}
	if n.Race != nil {
		ops = append(ops, "race")
	}
	if n.Fallback != nil {
		ops = append(ops, "fallback")
	}
	if n.Quorum != nil {
		ops = append(ops, "quorum")
	}
	if n.Branch != nil {
		ops = append(ops, "branch")
	}
	if n.Retry != nil {
		ops = append(ops, "retry")
	}
	if n.Timeout != nil {
		ops = append(ops, "timeout")
	}
	if n.Optional != nil {
		ops = append(ops, "optional")
	}
	if n.Async != nil {
		ops = append(ops, "async")
	}
	return ops
}

// flow validates a flow node and maps it onto the algebra. It returns a
// node even after errors so that every problem is reported.
func (l *loader) flow(d *document, n *v1alpha1.Node, p string, entries map[string]*entry, used map[string]bool) *model.Node {
	ops := setOps(n)
	switch {
	case len(ops) == 0 && d.bad[p]:
		return &model.Node{Op: model.Seq}
	case len(ops) == 0:
		dg := l.diags.Errorf(d.at(p), "node has no operator")
		dg.Detail = "use a component name or one of: " + strings.Join(opFields, ", ")
		return &model.Node{Op: model.Seq}
	case len(ops) > 1:
		dg := l.diags.Errorf(d.keyAt(p+"."+ops[1]), "two operators in one node: %s and %s", ops[0], ops[1])
		dg.Detail = "each node is exactly one operator; nest them instead"
	}
	list := func(field string, kids []v1alpha1.Node, op model.Op) *model.Node {
		out := &model.Node{Op: op}
		if len(kids) == 0 {
			l.diags.Errorf(d.at(p+"."+field), "%s needs at least one operand", field)
		}
		for i := range kids {
			out.Children = append(out.Children, l.flow(d, &kids[i], fmt.Sprintf("%s.%s[%d]", p, field, i), entries, used))
		}
		return out
	}
	single := func(field string, kid *v1alpha1.Node, op model.Op) *model.Node {
		out := &model.Node{Op: op}
		if kid == nil || len(setOps(kid)) == 0 && kid.Call == "" {
			l.diags.Errorf(d.at(p+"."+field), "%s needs a node", strings.TrimSuffix(field, ".do"))
			out.Children = []*model.Node{{Op: model.Seq}}
			return out
		}
		out.Children = []*model.Node{l.flow(d, kid, p+"."+field, entries, used)}
		return out
	}
	switch ops[0] {
	case "call":
		if _, ok := entries[n.Call]; !ok {
			dg := l.diags.Errorf(d.at(p+".call"), "unknown component %q", n.Call)
			dg.Detail = diag.DidYouMean(n.Call, slices.Sorted(maps.Keys(entries)))
			if dg.Detail == "" {
				dg.Detail = "declare it under spec.components or in a catalog the journey uses"
			}
		} else {
			used[n.Call] = true
		}
		return &model.Node{Op: model.Call, Component: n.Call}
	case "seq":
		return list("seq", n.Seq, model.Seq)
	case "all":
		return list("all", n.All, model.All)
	case "fallback":
		return list("fallback", n.Fallback, model.Fallback)
	case "race":
		out := list("race.of", n.Race.Of, model.Race)
		if n.Race.HedgeAfter != nil {
			out.HedgeAfter = time.Duration(*n.Race.HedgeAfter)
		}
		return out
	case "quorum":
		out := list("quorum.of", n.Quorum.Of, model.Quorum)
		out.K = n.Quorum.K
		if k := n.Quorum.K; k < 1 || k > len(n.Quorum.Of) {
			dg := l.diags.Errorf(d.at(p+".quorum.k"), "quorum k=%d with %d operands", k, len(n.Quorum.Of))
			dg.Detail = "k must be between 1 and the number of operands"
		}
		return out
	case "branch":
		out := &model.Node{Op: model.Branch}
		if len(n.Branch) == 0 {
			l.diags.Errorf(d.at(p+".branch"), "branch needs at least one case")
		}
		sum := 0.0
		for i := range n.Branch {
			c := &n.Branch[i]
			cp := fmt.Sprintf("%s.branch[%d]", p, i)
			if !(c.Weight >= 0 && c.Weight <= 1) {
				l.diags.Errorf(d.at(cp+".weight"), "branch weight %v is outside [0,1]", c.Weight)
			}
			sum += c.Weight
			out.Weights = append(out.Weights, c.Weight)
			out.Children = append(out.Children, l.flow(d, &c.Node, cp, entries, used))
		}
		if len(n.Branch) > 0 && math.Abs(sum-1) > 1e-9 {
			dg := l.diags.Errorf(d.keyAt(p+".branch"), "branch weights sum to %v, not 1", strconv.FormatFloat(sum, 'g', 6, 64))
			dg.Detail = "weights are the probabilities of each case"
		}
		return out
	case "retry":
		r := n.Retry
		out := single("retry.do", r.Do, model.Retry)
		out.Attempts = r.Attempts
		if r.Attempts < 1 || r.Attempts > 100 {
			l.diags.Errorf(d.at(p+".retry.attempts"), "retry attempts %d is outside [1,100]", r.Attempts)
		}
		if r.PerTryTimeout != nil {
			out.PerTryTimeout = time.Duration(*r.PerTryTimeout)
			if out.PerTryTimeout <= 0 {
				l.diags.Errorf(d.at(p+".retry.perTryTimeout"), "perTryTimeout must be positive")
			}
		}
		if r.Backoff != nil {
			out.Backoff = time.Duration(*r.Backoff)
		}
		return out
	case "timeout":
		out := single("timeout.do", n.Timeout.Do, model.Timeout)
		out.After = time.Duration(n.Timeout.After)
		if out.After <= 0 && !d.bad[p+".timeout.after"] {
			l.diags.Errorf(d.at(p+".timeout.after"), "timeout after must be a positive duration").Detail = "e.g. after: 300ms"
		}
		return out
	case "optional":
		return single("optional", n.Optional, model.Optional)
	default:
		return single("async", n.Async, model.Async)
	}
}

// component resolves a component definition once, however many journeys
// use it.
func (l *loader) component(e *entry) {
	if e.done {
		return
	}
	e.done = true
	d, p, def := e.doc, e.path, e.def
	errs := len(l.diags)
	c := &model.Component{Name: e.name, Domains: append([]string(nil), def.Domains...)}
	switch {
	case def.SLO != nil && def.SLORef != "":
		l.diags.Errorf(d.keyAt(p+".sloRef"), "component %q has both slo and sloRef", e.name).Detail = "keep one: sloRef reads the target from the SLO file"
	case def.SLO != nil:
		a := float64(def.SLO.Availability)
		if !(a > 0 && a < 1) && !d.bad[p+".slo.availability"] {
			if _, ok := d.pos[p+".slo.availability"]; !ok {
				l.diags.Errorf(d.at(p+".slo"), "component %q has no availability target", e.name)
			} else {
				l.outside(d, p+".slo.availability", a)
			}
		}
		c.Availability, c.Window, c.Source = a, time.Duration(def.SLO.Window), "spec"
		c.Latency = l.latencyPoints(d, p+".slo.latency", def.SLO.Latency)
	case def.SLORef != "":
		l.sloRef(e, c)
	default:
		dg := l.diags.Errorf(d.keyAt(p), "component %q has no objective", e.name)
		dg.Detail = "give slo: {availability: 99.9%} or sloRef: path/to/slo.yaml"
	}
	seen := map[string]bool{}
	for i, dn := range def.Domains {
		if dn == "" {
			l.diags.Errorf(d.at(fmt.Sprintf("%s.domains[%d]", p, i)), "empty failure-domain name")
		} else if seen[dn] {
			l.diags.Errorf(d.at(fmt.Sprintf("%s.domains[%d]", p, i)), "failure domain %q listed twice", dn)
		}
		seen[dn] = true
	}
	sort.Strings(c.Domains)
	c.Domains = dedupe(c.Domains)
	if def.Telemetry != nil {
		c.Telemetry = l.telemetry(d, p+".telemetry", def.Telemetry)
	}
	if def.Span != nil {
		c.Service, c.Operation = def.Span.Service, def.Span.Operation
	}
	if def.FailureLatency != nil {
		c.FailureLatency = time.Duration(*def.FailureLatency)
	}
	switch def.Invocations {
	case "", v1alpha1.InvocationsUnknown:
	case v1alpha1.InvocationsTransient:
		c.Invocations = model.InvocationsTransient
	case v1alpha1.InvocationsPersistent:
		c.Invocations = model.InvocationsPersistent
	default:
		dg := l.diags.Errorf(d.at(p+".invocations"), "unknown invocations %q", def.Invocations)
		dg.Detail = diag.DidYouMean(def.Invocations, []string{"transient", "persistent", "unknown"})
		if dg.Detail == "" {
			dg.Detail = "one of: transient, persistent, unknown"
		}
	}
	e.comp = c
	e.ok = !l.diags[errs:].HasErrors()
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

var pointRE = regexp.MustCompile(`^p(\d+(\.\d+)?)$`)

func (l *loader) latencyPoints(d *document, p string, m map[string]v1alpha1.Duration) []model.LatencyPoint {
	var pts []model.LatencyPoint
	for _, k := range slices.Sorted(maps.Keys(m)) {
		mm := pointRE.FindStringSubmatch(k)
		q := 0.0
		if mm != nil {
			q, _ = strconv.ParseFloat(mm[1], 64)
		}
		if mm == nil || q <= 0 || q >= 100 {
			dg := l.diags.Errorf(d.keyAt(p+"."+k), "latency point %q is not a percentile", k)
			dg.Detail = "use keys such as p50, p90, p99, p99.9"
			continue
		}
		if m[k] <= 0 {
			l.diags.Errorf(d.at(p+"."+k), "latency %s must be positive", k)
			continue
		}
		pts = append(pts, model.LatencyPoint{Quantile: q / 100, Value: time.Duration(m[k])})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Quantile < pts[j].Quantile })
	for i := 1; i < len(pts); i++ {
		if pts[i].Value < pts[i-1].Value {
			lo, hi := pointName(pts[i-1].Quantile), pointName(pts[i].Quantile)
			dg := l.diags.Errorf(d.at(p+"."+hi), "latency %s (%s) is below %s (%s)", hi, m[hi], lo, m[lo])
			dg.Detail = "latency points must not decrease as the percentile grows"
		}
	}
	return pts
}

func pointName(q float64) string { return "p" + strconv.FormatFloat(q*100, 'f', -1, 64) }

func (l *loader) telemetry(d *document, p string, t *v1alpha1.Telemetry) *model.Telemetry {
	switch {
	case t.Good != "" && t.Bad != "":
		l.diags.Errorf(d.keyAt(p+".bad"), "telemetry has both good and bad").Detail = "give good or bad, with total"
	case (t.Good != "" || t.Bad != "") && t.Total == "":
		l.diags.Errorf(d.at(p), "telemetry has no total query").Detail = "the SLI is good/total or 1 - bad/total"
	case t.Total != "" && t.Good == "" && t.Bad == "":
		l.diags.Errorf(d.at(p), "telemetry has a total but no good or bad query")
	}
	tel := &model.Telemetry{Good: strings.TrimSpace(t.Good), Bad: strings.TrimSpace(t.Bad), Total: strings.TrimSpace(t.Total), LatencyHistogram: strings.TrimSpace(t.LatencyHistogram)}
	if tel.LatencyHistogram != "" {
		tel.LatencyHistogramAt = d.at(p + ".latencyHistogram")
	}
	l.queries(tel, func(key string) *diag.Range { return d.at(p + "." + key) }, "")
	return tel
}

// queries reports the telemetry queries emac cannot build ratios from:
// those the Prometheus parser rejects, and those that are not instant
// vectors. at is where a query is written; of names its source when it
// comes from another file.
func (l *loader) queries(t *model.Telemetry, at func(key string) *diag.Range, of string) {
	for _, q := range []struct{ key, query string }{{"good", t.Good}, {"bad", t.Bad}, {"total", t.Total}, {"latencyHistogram", t.LatencyHistogram}} {
		if q.query == "" {
			continue
		}
		if _, err := promql.Parse(q.query); err != nil {
			l.diags.Errorf(at(q.key), "the %s query%s is not usable PromQL", q.key, of).Detail = err.Error()
		}
	}
}

func (l *loader) domains(d *document, j *model.Journey, decl, local map[string]v1alpha1.FailureDomain) {
	for _, cn := range j.ComponentNames() {
		for _, dn := range j.Components[cn].Domains {
			dom := j.Domains[dn]
			if dom == nil {
				dom = &model.Domain{Name: dn}
				if fd, ok := decl[dn]; ok {
					dom.Description, dom.Source, dom.Key = fd.Description, fd.Source, fd.Key
				} else if len(decl) > 0 {
					if s := diag.Suggest(dn, slices.Sorted(maps.Keys(decl))); s != "" {
						dg := l.diags.Warnf(d.at("spec.components."+cn+".domains"), "failure domain %q is not declared; did you mean %q?", dn, s)
						dg.Detail = "an undeclared domain is a domain of its own"
					}
				}
				j.Domains[dn] = dom
			}
			dom.Members = append(dom.Members, cn)
		}
	}
	for _, dn := range slices.Sorted(maps.Keys(local)) {
		if j.Domains[dn] == nil {
			l.diags.Warnf(d.keyAt("spec.failureDomains."+dn), "failure domain %q has no members", dn).Detail = "membership is declared on components: domains: [" + dn + "]"
		}
	}
}

var decisionBounds = []string{v1alpha1.BoundPessimistic, v1alpha1.BoundOptimistic, v1alpha1.BoundFloor}

func (l *loader) governance(d *document, j *model.Journey, g *v1alpha1.Governance) {
	j.Policy = model.Policy{Bound: v1alpha1.BoundPessimistic, MinConfidence: 0.8, HighImpact: 0.001}
	if g == nil {
		return
	}
	if dp := g.Decision; dp != nil {
		switch dp.Availability {
		case "":
		case v1alpha1.BoundPessimistic, v1alpha1.BoundOptimistic, v1alpha1.BoundFloor:
			j.Policy.Bound = dp.Availability
		default:
			dg := l.diags.Errorf(d.at("spec.governance.decision.availability"), "unknown decision bound %q", dp.Availability)
			dg.Detail = diag.DidYouMean(dp.Availability, decisionBounds)
			if dg.Detail == "" {
				dg.Detail = "one of: " + strings.Join(decisionBounds, ", ")
			}
		}
		if dp.MinConfidence != nil {
			if v := *dp.MinConfidence; !(v >= 0 && v <= 1) {
				l.diags.Errorf(d.at("spec.governance.decision.minConfidence"), "minConfidence %v is outside [0,1]", v)
			}
			j.Policy.MinConfidence = *dp.MinConfidence
		}
		if dp.HighImpact != nil {
			if v := *dp.HighImpact; !(v >= 0 && v < 1) {
				l.diags.Errorf(d.at("spec.governance.decision.highImpact"), "highImpact %v is outside [0,1)", v)
			}
			j.Policy.HighImpact = *dp.HighImpact
		}
	}
	if a := g.Alerting; a != nil {
		j.Policy.Page = l.burnRates(d, "spec.governance.alerting.page", a.Page)
		j.Policy.Ticket = l.burnRates(d, "spec.governance.alerting.ticket", a.Ticket)
	}
	if r := g.Rollout; r != nil {
		switch r.Provider {
		case "", v1alpha1.ProviderArgoRollouts, v1alpha1.ProviderFlagger:
			j.Policy.Rollout = r.Provider
		default:
			dg := l.diags.Errorf(d.at("spec.governance.rollout.provider"), "unknown rollout provider %q", r.Provider)
			dg.Detail = diag.DidYouMean(r.Provider, []string{v1alpha1.ProviderArgoRollouts, v1alpha1.ProviderFlagger})
			if dg.Detail == "" {
				dg.Detail = "one of: argo-rollouts, flagger"
			}
		}
	}
	var names []string
	for i, a := range g.Actions {
		p := fmt.Sprintf("spec.governance.actions[%d]", i)
		l.actionName(d, p, a.Name, names)
		names = append(names, a.Name)
		act := model.Action{Name: a.Name, Guard: strings.TrimSpace(a.Guard)}
		l.checkGuard(d, p+".guard", a.Guard, j)
		if lim := a.Limits; lim != nil {
			if lim.MaxTrafficStep != nil {
				if v := *lim.MaxTrafficStep; !(v > 0 && v <= 1) {
					l.diags.Errorf(d.at(p+".limits.maxTrafficStep"), "maxTrafficStep %v is outside (0,1]", v)
				}
				act.MaxTrafficStep = lim.MaxTrafficStep
			}
			if lim.MaxPerWindow < 0 {
				l.diags.Errorf(d.at(p+".limits.maxPerWindow"), "maxPerWindow must not be negative")
			}
			act.MaxPerWindow = lim.MaxPerWindow
			if lim.Window != nil {
				act.Window = time.Duration(*lim.Window)
			}
			if act.MaxPerWindow > 0 && act.Window <= 0 {
				l.diags.Errorf(d.at(p+".limits"), "maxPerWindow needs a window").Detail = "e.g. window: 10m"
			}
		}
		if a.Target != nil {
			act.Target = l.target(d, p+".target", a.Target, &act)
		}
		j.Policy.Actions = append(j.Policy.Actions, act)
	}
}

func (l *loader) burnRates(d *document, p string, ws []v1alpha1.BurnRateWindow) []model.BurnRateWindow {
	var out []model.BurnRateWindow
	for i, w := range ws {
		wp := fmt.Sprintf("%s[%d]", p, i)
		if w.BurnRate <= 0 {
			l.diags.Errorf(d.at(wp+".burnRate"), "burn rate must be positive")
		}
		if w.ShortWindow <= 0 || w.LongWindow <= 0 {
			l.diags.Errorf(d.at(wp), "burn-rate windows must be positive")
		} else if w.ShortWindow >= w.LongWindow {
			l.diags.Errorf(d.at(wp+".shortWindow"), "shortWindow %s is not shorter than longWindow %s", w.ShortWindow, w.LongWindow)
		}
		out = append(out, model.BurnRateWindow{BurnRate: w.BurnRate, LongWindow: time.Duration(w.LongWindow), ShortWindow: time.Duration(w.ShortWindow)})
	}
	return out
}

// sloFile is a parsed SLO file.
type sloFile struct {
	objs []slo.Objective
}

func (l *loader) dirOf(file string) string {
	if l.opts.FS != nil {
		return path.Dir(file)
	}
	return filepath.Dir(file)
}

// root is the directory sloRef paths must stay within: the enclosing Git
// work tree, or the spec's own directory.
func (l *loader) root(file string) string {
	dir := l.dirOf(file)
	if r, ok := l.rootOf[dir]; ok {
		return r
	}
	root := dir
	if l.opts.FS != nil {
		root = "." // the file system itself is the boundary
	} else {
		if abs, err := filepath.Abs(dir); err == nil {
			if ev, err := filepath.EvalSymlinks(abs); err == nil {
				abs = ev
			}
			root = abs
			for x := abs; ; {
				if _, err := os.Stat(filepath.Join(x, ".git")); err == nil {
					root = x
					break
				}
				parent := filepath.Dir(x)
				if parent == x {
					break
				}
				x = parent
			}
		}
	}
	l.rootOf[dir] = root
	return root
}

// within reports whether p (a file) lies under root.
func (l *loader) within(p, root string) bool {
	if l.opts.FS != nil {
		return root == "." || p == root || strings.HasPrefix(p, root+"/")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	if ev, err := filepath.EvalSymlinks(abs); err == nil {
		abs = ev
	}
	rel, err := filepath.Rel(root, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (l *loader) readSLO(p string) (*sloFile, error) {
	if f, ok := l.slo[p]; ok {
		return f, nil
	}
	b, err := l.readFile(p)
	if err != nil {
		return nil, unwrapPath(err)
	}
	objs, ds := slo.Read(p, b)
	f := &sloFile{objs: objs}
	if len(ds) > 0 {
		l.src[p] = b
		l.diags = append(l.diags, ds...)
	}
	l.slo[p] = f
	return f, nil
}

func (l *loader) sloRef(e *entry, c *model.Component) {
	d, p, ref := e.doc, e.path+".sloRef", e.def.SLORef
	var obj *slo.Objective
	var src string
	if name, ok := strings.CutPrefix(ref, "openslo:"); ok {
		obj, src = l.sloByName(d, p, name)
	} else {
		file, name, _ := strings.Cut(ref, "#")
		obj, src = l.sloByPath(d, p, file, name)
	}
	if obj == nil {
		return
	}
	if obj.LatencyThreshold > 0 {
		dg := l.diags.Errorf(d.at(p), "sloRef %q is a latency SLO", ref)
		dg.Detail = "availability needs an error-ratio SLO; give latency points under slo.latency"
		return
	}
	if !(obj.Target > 0 && obj.Target < 1) {
		l.diags.Errorf(d.at(p), "the SLO's target %v is outside (0,1)", obj.Target)
		return
	}
	c.Availability, c.Window = obj.Target, obj.Window
	c.Source = fmt.Sprintf("%s %s (%s)", obj.Format, obj.Name, src)
	if e.def.Telemetry == nil && (obj.Good != "" || obj.Bad != "") {
		c.Telemetry = &model.Telemetry{Good: strings.TrimSpace(obj.Good), Bad: strings.TrimSpace(obj.Bad), Total: strings.TrimSpace(obj.Total)}
		l.queries(c.Telemetry, func(string) *diag.Range { return d.at(p) }, fmt.Sprintf(" of SLO %s (%s)", obj.Name, src))
	}
	if e.def.Span == nil {
		c.Service = obj.Service
	}
}

func (l *loader) sloByPath(d *document, p, file, name string) (*slo.Objective, string) {
	if file == "" {
		l.diags.Errorf(d.at(p), "sloRef has no file")
		return nil, ""
	}
	var full string
	if l.opts.FS != nil {
		if path.IsAbs(file) && !l.opts.AllowOutside {
			l.diags.Errorf(d.at(p), "sloRef %q is an absolute path", file).Detail = "use a path relative to the spec, or pass --allow-outside"
			return nil, ""
		}
		full = path.Join(l.dirOf(d.file), file)
	} else {
		if filepath.IsAbs(file) {
			if !l.opts.AllowOutside {
				l.diags.Errorf(d.at(p), "sloRef %q is an absolute path", file).Detail = "use a path relative to the spec, or pass --allow-outside"
				return nil, ""
			}
			full = file
		} else {
			full = filepath.Join(l.dirOf(d.file), file)
		}
	}
	if !l.opts.AllowOutside && d.file != "<stdin>" && !l.within(full, l.root(d.file)) {
		dg := l.diags.Errorf(d.at(p), "sloRef %q leaves the spec's repository", file)
		dg.Detail = "sloRef paths must stay inside " + l.root(d.file) + "; pass --allow-outside to read it anyway"
		return nil, ""
	}
	f, err := l.readSLO(full)
	if err != nil {
		l.diags.Errorf(d.at(p), "cannot read sloRef %q: %v", file, err)
		return nil, ""
	}
	if len(f.objs) == 0 {
		dg := l.diags.Errorf(d.at(p), "%s holds no SLO", file)
		dg.Detail = "expected an OpenSLO SLO, a Sloth prometheus/v1 file or a Pyrra ServiceLevelObjective"
		return nil, ""
	}
	if name == "" {
		if len(f.objs) > 1 {
			dg := l.diags.Errorf(d.at(p), "%s holds %d SLOs; name one", file, len(f.objs))
			dg.Detail = "write " + file + "#" + f.objs[0].Name + " (one of: " + strings.Join(objNames(f.objs), ", ") + ")"
			return nil, ""
		}
		return &f.objs[0], full
	}
	if o := slo.Find(f.objs, name); o != nil {
		return o, full
	}
	dg := l.diags.Errorf(d.at(p), "%s has no SLO named %q", file, name)
	dg.Detail = diag.DidYouMean(name, objNames(f.objs))
	return nil, ""
}

func objNames(objs []slo.Objective) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

// sloByName finds an SLO by name among the YAML files under the spec's
// directory, its parent and the extra SLO directories.
func (l *loader) sloByName(d *document, p, name string) (*slo.Objective, string) {
	if d.file == "<stdin>" && len(l.opts.SLODirs) == 0 {
		l.diags.Errorf(d.at(p), "cannot look up %q for a spec read from standard input", name).Detail = "pass --slo-dir"
		return nil, ""
	}
	var dirs []string
	if d.file != "<stdin>" {
		dir := l.dirOf(d.file)
		parent := l.dirOf(dir)
		if l.opts.FS == nil {
			if abs, err := filepath.Abs(dir); err == nil {
				parent = filepath.Dir(abs)
			}
		}
		dirs = append(dirs, parent)
	}
	dirs = append(dirs, l.opts.SLODirs...)
	var found []*slo.Objective
	var where []string
	var all []string
	for _, dir := range dirs {
		files, _ := l.walk(dir)
		for _, f := range files {
			sf, err := l.readSLO(f)
			if err != nil {
				continue
			}
			for i := range sf.objs {
				all = append(all, sf.objs[i].Name)
				if sf.objs[i].Name == name {
					found = append(found, &sf.objs[i])
					where = append(where, f)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		dg := l.diags.Errorf(d.at(p), "no SLO named %q near the spec", name)
		dg.Detail = diag.DidYouMean(name, all)
		if dg.Detail == "" {
			dg.Detail = "searched " + strings.Join(dirs, ", ") + "; pass --slo-dir to search elsewhere"
		}
		return nil, ""
	case 1:
		return found[0], where[0]
	}
	uniq := dedupe(append([]string(nil), where...))
	if len(uniq) > 1 {
		dg := l.diags.Errorf(d.at(p), "SLO name %q is ambiguous", name)
		dg.Detail = "found in " + strings.Join(uniq, ", ")
		return nil, ""
	}
	return found[0], where[0]
}
