package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/guard"
	"github.com/emac-dev/emac/internal/model"
)

// dns1123Subdomain is a Kubernetes object name.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// checkGuard type-checks an action's guard (path p) against the guard
// environment and the journey: every issue is reported at its position
// inside the guard when the spec's text allows it, else at the guard.
func (l *loader) checkGuard(d *document, p string, src string, j *model.Journey) {
	if strings.TrimSpace(src) == "" || d.bad[p] {
		return
	}
	g, issues := guard.Check(src)
	for _, is := range issues {
		dg := l.diags.Errorf(l.guardRange(d, p, src, is), "guard: %s", is.Message)
		dg.Detail = is.Detail
	}
	if g == nil {
		return
	}
	// Fields of the objective exist only when the spec declares them: a
	// guard reading a missing one could never allow the action.
	if j.Objective.Latency == nil {
		for _, r := range g.References() {
			if r == "objective."+guard.ObjectiveLatency || r == "objective."+guard.ObjectivePercentile {
				dg := l.diags.Errorf(d.at(p), "guard reads %s but the journey has no latency objective", r)
				dg.Detail = "add spec.objectives.latency, e.g. {percentile: 99, threshold: 400ms}"
			}
		}
	}
}

// guardRange maps an issue inside the guard at path p to the spec file.
// It is exact for a guard on one line, plain or quoted without escapes,
// and for a literal block (|); otherwise it is the guard itself.
func (l *loader) guardRange(d *document, p, src string, is guard.Issue) *diag.Range {
	at := d.at(p)
	if is.Line < 1 || at.Start.Line < 1 {
		return at
	}
	lines := strings.Split(string(l.src[d.file]), "\n")
	if at.Start.Line > len(lines) {
		return at
	}
	exact := func(line, col int) *diag.Range {
		r := &diag.Range{Filename: at.Filename, Start: diag.Pos{Line: line, Column: col}}
		if is.Length > 0 {
			r.End = diag.Pos{Line: line, Column: col + is.Length}
		}
		return r
	}
	first := []rune(strings.TrimRight(lines[at.Start.Line-1], "\r"))
	if at.Start.Column-1 > len(first) {
		return at
	}
	rest := string(first[at.Start.Column-1:])
	if !strings.Contains(src, "\n") {
		switch {
		case strings.HasPrefix(rest, src):
			return exact(at.Start.Line, at.Start.Column+is.Column-1)
		case strings.HasPrefix(rest, `"`+src+`"`), strings.HasPrefix(rest, "'"+src+"'"):
			return exact(at.Start.Line, at.Start.Column+is.Column)
		}
		return at
	}
	// A literal block: the guard's lines are the source lines after the
	// indicator, each behind the same indentation.
	if !strings.HasPrefix(rest, "|") {
		return at
	}
	glines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	indent := -1
	for i, gl := range glines {
		n := at.Start.Line + 1 + i
		if n > len(lines) {
			return at
		}
		sl := strings.TrimRight(lines[n-1], "\r")
		if gl == "" && strings.TrimSpace(sl) == "" {
			continue
		}
		pre, ok := strings.CutSuffix(sl, gl)
		if !ok || strings.TrimLeft(pre, " ") != "" || (indent >= 0 && len(pre) != indent) {
			return at
		}
		indent = len(pre)
	}
	if is.Line > len(glines) || indent < 0 {
		return at
	}
	return exact(at.Start.Line+is.Line, indent+is.Column)
}

// target resolves an action's Kubernetes target (path p).
func (l *loader) target(d *document, p string, t *v1alpha1.ActionTarget, a *model.Action) *model.ActionTarget {
	out := &model.ActionTarget{APIVersion: t.APIVersion, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace}
	var kinds []string
	for _, k := range guard.TargetKinds() {
		kinds = append(kinds, k.Kind)
	}
	k, ok := guard.LookupTarget(t.Kind)
	switch {
	case t.Kind == "":
		dg := l.diags.Errorf(d.at(p), "target has no kind")
		dg.Detail = "one of: " + strings.Join(kinds, ", ")
	case !ok:
		dg := l.diags.Errorf(d.at(p+".kind"), "unsupported target kind %q", t.Kind)
		dg.Detail = diag.DidYouMean(t.Kind, kinds)
		switch {
		case t.Kind == "Rollout":
			dg.Detail = "target the VirtualService or HTTPRoute the Rollout's trafficRouting shifts: its steps are then guarded too"
		case dg.Detail == "":
			dg.Detail = "one of: " + strings.Join(kinds, ", ")
		}
	case t.APIVersion == "":
		dg := l.diags.Errorf(d.at(p), "target has no apiVersion")
		dg.Detail = "for a " + k.Kind + ": " + strings.Join(k.APIVersions(), ", ")
	case !k.Accepts(t.APIVersion):
		dg := l.diags.Errorf(d.at(p+".apiVersion"), "%s is not an apiVersion of %s", t.APIVersion, k.Kind)
		dg.Detail = diag.DidYouMean(t.APIVersion, k.APIVersions())
		if dg.Detail == "" {
			dg.Detail = "one of: " + strings.Join(k.APIVersions(), ", ")
		}
	}
	switch {
	case t.Name == "":
		l.diags.Errorf(d.at(p), "target has no name")
	case len(t.Name) > 253 || !dns1123Subdomain.MatchString(t.Name):
		l.diags.Errorf(d.at(p+".name"), "target name %q is not a valid Kubernetes object name", t.Name).Detail = "lowercase letters, digits, '-' and '.', at most 253 characters"
	}
	if t.Namespace != "" && (len(t.Namespace) > 63 || !dns1123.MatchString(t.Namespace)) {
		l.diags.Errorf(d.at(p+".namespace"), "target namespace %q is not a DNS-1123 label", t.Namespace)
	}
	if strings.TrimSpace(a.Guard) == "" && a.MaxTrafficStep == nil {
		l.diags.Warnf(d.keyAt(p), "action %q has a target but neither a guard nor a maxTrafficStep to enforce on it", a.Name)
	}
	return out
}

// actionName checks an action's name: it names files and Kubernetes
// objects, so it is a DNS-1123 label.
func (l *loader) actionName(d *document, p, name string, seen []string) {
	switch {
	case name == "":
		l.diags.Errorf(d.at(p), "action has no name")
	case slices.Contains(seen, name):
		l.diags.Errorf(d.at(p+".name"), "action %q is declared twice", name)
	case utf8.RuneCountInString(name) > 63 || !dns1123.MatchString(name):
		dg := l.diags.Errorf(d.at(p+".name"), "action name %q is not a DNS-1123 label", name)
		dg.Detail = fmt.Sprintf("it names files and Kubernetes objects: use at most 63 lowercase letters, digits and '-', e.g. %q", suggestLabel(name))
	}
}

// suggestLabel turns name into a DNS-1123 label, for hints.
func suggestLabel(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		return "promote"
	}
	return s
}
