package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/emac-dev/emac/internal/stats"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/partition"
	"github.com/emac-dev/emac/internal/patch"
)

// A journey's delta (docs/discovery.md):
//
//   - Failure domains. The labels that name a component's domain
//     (emac.failure_domain on its spans, emac.peer.failure_domain on its
//     callers') are votes. When all agree, the component belongs to that
//     domain in place of the spec's domains the labels speak for (those
//     whose members all have labels); the confidence is the posterior
//     probability, under a uniform prior, that most of the component's
//     labels name that value: 1 − I½(k+1, n−k+1) for k of n. Changes are
//     grouped by the components they tie together, each with its ΔA-.
//     When labels disagree, or a component in redundancy with labelled
//     ones has none, the domain is unresolved: After shares it with its
//     redundancy partners (the conservative assignment) and the decision
//     is REVIEW until a person resolves it.
//   - The flow. The discovered flow of the entry operation that calls the
//     most of the journey's services (prefixed with the entry's own
//     component when the spec names it) is compared with the spec's up to
//     the order of concurrent operands; a difference is a change with the
//     flow's confidence, applied in After only when that reaches the
//     journey's minConfidence and every component is known. Branch
//     weights outside their discovered 95% interval are changes; a spec
//     component never called is reported, with the call rate its absence
//     excludes.

// Delta compares every journey of the spec files with the discovery. The
// diagnostics of a spec that does not load are in the report.
func Delta(ctx context.Context, specPaths []string, d *Discovery, opts Options) (*Report, []*v1alpha1.ModelDelta, error) {
	rep, err := Check(ctx, specPaths, opts)
	if err != nil || rep.Diagnostics.HasErrors() {
		return rep, nil, err
	}
	var out []*v1alpha1.ModelDelta
	for _, j := range rep.Journeys {
		md, err := journeyDelta(ctx, j, d, opts)
		if err != nil {
			return rep, nil, fmt.Errorf("journey %s: %w", j.Name, err)
		}
		out = append(out, md)
	}
	return rep, out, nil
}

// serviceOf is the service a component's spans carry.
func serviceOf(c *model.Component) string {
	if c.Service != "" {
		return c.Service
	}
	return c.Name
}

func journeyDelta(ctx context.Context, j *model.Journey, d *Discovery, opts Options) (*v1alpha1.ModelDelta, error) {
	md := &v1alpha1.ModelDelta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindModelDelta, ModelDeltaSpec: v1alpha1.ModelDeltaSpec{Spec: j.Source, Journey: j.Name, Changes: []v1alpha1.ModelChange{}}}
	if file := sourceFile(j.Source); file != "" {
		if b, err := os.ReadFile(file); err == nil {
			sum := sha256.Sum256(b)
			md.Spec, md.SpecDigest = file, hex.EncodeToString(sum[:])
		}
	}
	before, err := state(ctx, j, opts)
	if err != nil {
		return nil, err
	}
	md.Before = before
	after := j.Clone()
	reviews := []string{}
	conf := 1.0

	doms, err := domainChanges(ctx, j, d.Evidence, before.Pessimistic, opts)
	if err != nil {
		return nil, err
	}
	for _, c := range doms {
		md.Changes = append(md.Changes, c.change)
		c.apply(after)
		if c.change.Conservative {
			reviews = append(reviews, c.change.Summary)
		} else {
			conf = min(conf, c.change.Confidence)
		}
	}
	flows, err := flowChanges(ctx, j, d.Model, md, opts)
	if err != nil {
		return nil, err
	}
	for _, c := range flows {
		md.Changes = append(md.Changes, c.change)
		if c.change.Applied {
			c.apply(after)
			conf = min(conf, c.change.Confidence)
		}
	}
	md.Confidence = conf
	as, err := state(ctx, after, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case len(reviews) > 0:
		as.Decision = v1alpha1.DecisionReview
		as.Reasons = append([]string{"the evidence leaves failure domains unresolved: they are taken as shared until a person resolves them"}, reviews...)
	case conf < j.Policy.MinConfidence:
		as.Decision = v1alpha1.DecisionReview
		as.Reasons = append([]string{fmt.Sprintf("the changes applied have confidence %.3f, below minConfidence %.3g", conf, j.Policy.MinConfidence)}, as.Reasons...)
	}
	md.After = as
	if md.Spec != "" {
		if before, after, err := Patched(md, AcceptOptions{}); err == nil && string(before) != string(after) {
			md.Patch = patch.Diff(DiffName(md.Spec), DiffName(md.Spec), before, after)
		}
	}
	return md, nil
}

// sourceFile is the file of a journey's source ("file:line:col" or a
// file).
func sourceFile(src string) string {
	if src == "" {
		return ""
	}
	if _, err := os.Stat(src); err == nil {
		return src
	}
	for i := len(src) - 1; i > 0; i-- {
		if src[i] == ':' {
			if _, err := os.Stat(src[:i]); err == nil {
				return src[:i]
			}
		}
	}
	return ""
}

// state assesses a journey: its bounds and decision.
func state(ctx context.Context, j *model.Journey, opts Options) (v1alpha1.DeltaState, error) {
	a, err := Assess(ctx, j, opts)
	if err != nil {
		return v1alpha1.DeltaState{}, err
	}
	s := v1alpha1.DeltaState{Optimistic: a.Result.Availability.Optimistic, Pessimistic: a.Result.Availability.Pessimistic,
		Decision: a.Result.Decision, Reasons: a.Result.Reasons, Flow: j.Flow.String(), Domains: map[string][]string{}}
	for name, dom := range j.Domains {
		if len(dom.Members) > 0 {
			s.Domains[name] = slices.Clone(dom.Members)
		}
	}
	return s, nil
}

// pending is a change and how to apply it to a journey.
type pending struct {
	change v1alpha1.ModelChange
	apply  func(*model.Journey)
}

// setDomains gives component c exactly the domains ds, keeping the
// journey's domain table consistent.
func setDomains(j *model.Journey, c string, ds []string) {
	comp := j.Components[c]
	for _, old := range comp.Domains {
		if dom := j.Domains[old]; dom != nil {
			dom.Members = slices.DeleteFunc(slices.Clone(dom.Members), func(m string) bool { return m == c })
		}
	}
	comp.Domains = slices.Sorted(slices.Values(ds))
	for _, nd := range comp.Domains {
		dom := j.Domains[nd]
		if dom == nil {
			dom = &model.Domain{Name: nd, Source: "discovered"}
			j.Domains[nd] = dom
		}
		if !slices.Contains(dom.Members, c) {
			dom.Members = append(slices.Clone(dom.Members), c)
			slices.Sort(dom.Members)
		}
	}
}

// majority is the posterior probability, under a uniform prior on the
// share θ of labels naming a value, that θ > ½ after k of n did:
// 1 − I½(k+1, n−k+1), the regularized incomplete beta.
func majority(k, n int) float64 {
	// I½(a, b) for integers: P(Bin(a+b−1, ½) ≥ a)
	a, b := k+1, n-k+1
	m := a + b - 1
	p := 0.0
	for i := a; i <= m; i++ {
		p += math.Exp(stats.LogChoose(m, i) - float64(m)*math.Ln2)
	}
	return 1 - min(1, p)
}

// redundancy lists, per component, the components it is in redundancy
// with: the other leaves of a race, a fallback or a quorum it is a leaf
// of.
func redundancy(j *model.Journey) map[string][]string {
	out := map[string][]string{}
	j.Flow.Walk(func(n *model.Node) {
		if n.Op != model.Race && n.Op != model.Fallback && n.Op != model.Quorum {
			return
		}
		var leaves []string
		for _, c := range n.Children {
			c.Walk(func(x *model.Node) {
				if x.Op == model.Call {
					leaves = append(leaves, x.Component)
				}
			})
		}
		for _, a := range leaves {
			for _, b := range leaves {
				if a != b && !slices.Contains(out[a], b) {
					out[a] = append(out[a], b)
				}
			}
		}
	})
	return out
}

func domainChanges(ctx context.Context, j *model.Journey, ev *discovery.Evidence, base float64, opts Options) ([]pending, error) {
	names := j.ComponentNames()
	labels := map[string]map[string]int{}
	for _, c := range names {
		if l := ev.DomainLabels(serviceOf(j.Components[c])); len(l) > 0 {
			labels[c] = l
		}
	}
	if len(labels) == 0 {
		return nil, nil
	}
	// the spec's domains the labels speak for: every member has labels
	spoken := func(dom string) bool {
		d := j.Domains[dom]
		if d == nil || d.Key != "" {
			return false
		}
		for _, m := range d.Members {
			if labels[m] == nil {
				return false
			}
		}
		return true
	}
	want := map[string][]string{} // component → its domains as the evidence has them
	conf := map[string]float64{}
	evidence := map[string]string{}
	unresolved := map[string]string{}
	red := redundancy(j)
	for _, c := range names {
		l := labels[c]
		comp := j.Components[c]
		if l == nil {
			// in redundancy with labelled components, with none of its own
			for _, p := range red[c] {
				if labels[p] != nil {
					unresolved[c] = fmt.Sprintf("%s has no failure-domain label, while %s, in redundancy with it, has", c, p)
					break
				}
			}
			continue
		}
		values := slices.Sorted(maps.Keys(l))
		n := 0
		for _, v := range values {
			n += l[v]
		}
		var parts []string
		for _, v := range values {
			parts = append(parts, fmt.Sprintf("%s ×%d", v, l[v]))
		}
		evidence[c] = fmt.Sprintf("%s: labels %s", c, strings.Join(parts, ", "))
		if len(values) > 1 {
			unresolved[c] = fmt.Sprintf("%s's labels disagree (%s)", c, strings.Join(parts, ", "))
			continue
		}
		var keep []string
		for _, dn := range comp.Domains {
			if !spoken(dn) {
				keep = append(keep, dn)
			}
		}
		want[c] = append(keep, values[0])
		conf[c] = majority(n, n)
	}
	// agreed components whose domains change, grouped by the components
	// their old or new domains tie together
	changed := []string{}
	for _, c := range names {
		if w, ok := want[c]; ok && !slices.Equal(slices.Sorted(slices.Values(w)), j.Components[c].Domains) {
			changed = append(changed, c)
		}
	}
	var out []pending
	for _, group := range groups(changed, func(a, b string) bool {
		return shareAny(j.Components[a].Domains, j.Components[b].Domains) || shareAny(want[a], want[b])
	}) {
		p := pending{change: v1alpha1.ModelChange{Kind: v1alpha1.ChangeDomainMembership, Components: group, Confidence: 1, Applied: true,
			Basis: "for each component, the posterior probability under a uniform prior that most of its failure-domain labels name the value they all name, 1 − I½(n+1, 1) for n labels; the change's is its least component's"}}
		for _, c := range group {
			p.change.Before = append(p.change.Before, fmt.Sprintf("%s: %s", c, strings.Join(j.Components[c].Domains, ", ")))
			p.change.After = append(p.change.After, fmt.Sprintf("%s: %s", c, strings.Join(slices.Sorted(slices.Values(want[c])), ", ")))
			p.change.Confidence = min(p.change.Confidence, conf[c])
			p.change.Evidence = append(p.change.Evidence, evidence[c])
			p.change.Edits = append(p.change.Edits, v1alpha1.SpecEdit{Component: c, Domains: slices.Sorted(slices.Values(want[c]))})
		}
		p.change.Summary = fmt.Sprintf("failure domains of %s as the evidence labels them: %s", strings.Join(group, ", "), strings.Join(p.change.After, "; "))
		grp := slices.Clone(group)
		p.apply = func(x *model.Journey) {
			for _, c := range grp {
				setDomains(x, c, want[c])
			}
		}
		if err := impact(ctx, j, &p, base, opts); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	// unresolved: shared with the redundancy partners until resolved
	var open []string
	for _, c := range names {
		if _, ok := unresolved[c]; ok {
			open = append(open, c)
		}
	}
	for _, group := range groups(open, func(a, b string) bool { return slices.Contains(red[a], b) }) {
		members := slices.Clone(group)
		for _, c := range group {
			for _, p := range red[c] {
				if !slices.Contains(members, p) {
					members = append(members, p)
				}
			}
		}
		slices.Sort(members)
		shared := "unresolved-" + strings.Join(members, "-")
		p := pending{change: v1alpha1.ModelChange{Kind: v1alpha1.ChangeDomainConflict, Components: members, Conservative: true,
			Basis: "a conflict is not settled by counting: the conservative (shared) assignment holds until a person resolves it"}}
		for _, c := range group {
			p.change.Evidence = append(p.change.Evidence, unresolved[c])
		}
		for _, c := range members {
			if e, ok := evidence[c]; ok && !slices.Contains(p.change.Evidence, e) {
				p.change.Evidence = append(p.change.Evidence, e)
			}
			p.change.Before = append(p.change.Before, fmt.Sprintf("%s: %s", c, strings.Join(j.Components[c].Domains, ", ")))
		}
		p.change.After = []string{fmt.Sprintf("%s share %s until resolved", strings.Join(members, ", "), shared)}
		p.change.Summary = fmt.Sprintf("unresolved failure domain of %s: %s; taken as shared (%s)", strings.Join(group, ", "), strings.Join(p.change.Evidence[:len(group)], "; "), shared)
		p.apply = func(x *model.Journey) {
			for _, c := range members {
				setDomains(x, c, append(slices.Clone(x.Components[c].Domains), shared))
			}
		}
		if err := impact(ctx, j, &p, base, opts); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// impact sets a change's ΔA-: A- of the spec with it applied, less base.
func impact(ctx context.Context, j *model.Journey, p *pending, base float64, opts Options) error {
	x := j.Clone()
	p.apply(x)
	s, err := state(ctx, x, opts)
	if err != nil {
		return err
	}
	d := s.Pessimistic - base
	p.change.DeltaPessimistic = &d
	p.change.HighImpact = math.Abs(d) >= j.Policy.HighImpact
	return nil
}

func shareAny(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// groups splits items into the connected components of linked: groups
// in the order of their first items, each sorted.
func groups(items []string, linked func(a, b string) bool) [][]string {
	var out [][]string
	for _, idx := range partition.Components(len(items), func(i, j int) bool { return linked(items[i], items[j]) }) {
		g := make([]string, len(idx))
		for k, i := range idx {
			g[k] = items[i]
		}
		slices.Sort(g)
		out = append(out, g)
	}
	return out
}

func flowChanges(ctx context.Context, j *model.Journey, m *v1alpha1.DiscoveredModel, md *v1alpha1.ModelDelta, opts Options) ([]pending, error) {
	// discovered components → the spec's, by service (and operation when
	// the spec names one)
	toSpec := map[string]string{}
	for _, dc := range m.Components {
		for _, name := range j.ComponentNames() {
			c := j.Components[name]
			if serviceOf(c) == dc.Span.Service && (c.Operation == "" || c.Operation == dc.Span.Operation) {
				toSpec[dc.Name] = name
			}
		}
	}
	var best *v1alpha1.DiscoveredFlow
	bestScore := 0
	for i := range m.Flows {
		f := &m.Flows[i]
		if !f.Root || f.Canonical == "" {
			continue
		}
		n, err := model.ParseFlow(f.Canonical)
		if err != nil {
			continue
		}
		score := 0
		for leaf := range n.Calls() {
			if _, ok := toSpec[strings.SplitN(leaf, "#", 2)[0]]; ok {
				score++
			}
		}
		if score > bestScore || score == bestScore && best != nil && f.Invocations > best.Invocations {
			best, bestScore = f, score
		}
	}
	if best == nil {
		return nil, nil
	}
	md.Entry = &best.Entry
	got, err := model.ParseFlow(best.Canonical)
	if err != nil {
		return nil, err
	}
	var added []string
	got.Walk(func(x *model.Node) {
		if x.Op != model.Call {
			return
		}
		if name, ok := toSpec[x.Component]; ok {
			x.Component = name
		} else if !slices.Contains(added, x.Component) {
			added = append(added, x.Component)
		}
	})
	// the entry's own component, when the spec names it, comes first
	for _, name := range j.ComponentNames() {
		c := j.Components[name]
		if serviceOf(c) == best.Entry.Service && (c.Operation == "" || c.Operation == best.Entry.Operation) {
			got = &model.Node{Op: model.Seq, Children: []*model.Node{{Op: model.Call, Component: name}, got}}
		}
	}
	var out []pending
	basis := best.Basis
	seen := got.Calls()
	for _, name := range j.ComponentNames() {
		if _, ok := seen[name]; ok {
			continue
		}
		n := best.Invocations
		c := stats.Unrefuted(max(n, 1))
		out = append(out, pending{change: v1alpha1.ModelChange{Kind: v1alpha1.ChangeNotObserved, Components: []string{name},
			Summary:    fmt.Sprintf("%s was not called in the %d invocations of %s %s", name, n, best.Entry.Service, best.Entry.Operation),
			Confidence: c,
			Basis:      fmt.Sprintf("with no call in n = %d invocations, a call rate above 1 − 0.05^(1/n) = %.3f is excluded at 95%% (exact binomial); the confidence is 0.05^(1/n), as for a flow's decisions", n, 1-c)}})
	}
	got = discovery.Flatten(got)
	if discovery.Shape(got) == discovery.Shape(j.Flow) {
		return out, nil
	}
	ch := v1alpha1.ModelChange{Kind: v1alpha1.ChangeFlow, Summary: fmt.Sprintf("the flow the traces show differs: %s", got), Before: []string{j.Flow.String()}, After: []string{got.String()},
		Confidence: best.Confidence, Basis: basis, Evidence: best.Notes}
	node := discovery.APINode(got)
	for _, a := range added {
		ch.Edits = append(ch.Edits, v1alpha1.SpecEdit{AddComponent: a})
		out = append(out, pending{change: v1alpha1.ModelChange{Kind: v1alpha1.ChangeComponentAdded, Components: []string{a}, Confidence: best.Confidence, Basis: basis,
			Summary: fmt.Sprintf("%s is called but not in the spec: give it an SLO (sloRef or slo) to evaluate the flow with it", a)}})
	}
	ch.Edits = append(ch.Edits, v1alpha1.SpecEdit{Flow: &node})
	p := pending{change: ch, apply: func(x *model.Journey) { x.Flow = got }}
	if len(added) == 0 {
		if err := impact(ctx, j, &p, md.Before.Pessimistic, opts); err != nil {
			return nil, err
		}
		p.change.Applied = best.Confidence >= j.Policy.MinConfidence
	}
	return append(out, p), nil
}

// DiffName is a file's name in a diff: relative to the working directory
// when it lies under it.
func DiffName(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(strings.TrimPrefix(path, "/"))
}
