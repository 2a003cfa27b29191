// Package slo reads availability objectives from existing SLO-as-code files:
// OpenSLO (v1 and v1alpha), Sloth (prometheus/v1 and the PrometheusServiceLevel CRD) and Pyrra (ServiceLevelObjective).
//
// Only what emac needs is read: the name, the service, the target, the
// window, the SLI queries and, for latency SLOs, the latency threshold.
// Fields this package does not use are not checked, so files that the
// tools themselves accept read here without complaint; documents of other
// kinds (an OpenSLO DataSource, an emac Journey, Kubernetes manifests,
// Prometheus rule files, ...) are skipped. A malformed SLO document gets
// diagnostics with its file:line:col and is left out of the result.
//
// What each format maps to:
//
//   - OpenSLO v1 (kind SLO): the first of spec.objectives (target, or
//     targetPercent/100), spec.timeWindow[0].duration (duration shorthand:
//     m, h, d, w, M = 30d, Q = 90d, Y = 365d, as in the OpenSLO Go SDK),
//     the indicator inline (spec.indicator.spec) or named by
//     spec.indicatorRef when a kind SLI document of that name is in the same
//     file: ratioMetric.{good,bad,total}.metricSource.spec.query, or
//     ratioMetric.raw with rawType success (Good) or failure (Bad), Total
//     left empty. A thresholdMetric (or rawMetric) with op lt/lte gives
//     LatencyThreshold when the query names its unit (a metric name with
//     _seconds, _milliseconds, _ms, Msec, ...); otherwise it stays 0.
//   - OpenSLO v1alpha (kind SLO): the first of spec.objectives, its target
//     and ratioMetrics.{good,bad,total}.query; spec.timeWindows[0].count
//     and unit (Second ... Year, Month = 30d, Quarter = 90d).
//   - Sloth prometheus/v1 and the PrometheusServiceLevel CRD (under spec):
//     one Objective per slos[] entry; objective/100; sli.events
//     error_query/errorQuery (Bad) and total_query/totalQuery (Total);
//     sli.raw error_ratio_query/errorRatioQuery is a precomputed error
//     ratio, returned in Bad with Total empty; sli.plugin has no queries.
//     Sloth files carry no SLO period (it is the --default-slo-period flag
//     or an AlertWindows file given on the command line, 30d by default),
//     so Window is Sloth's default, 30d.
//   - Pyrra ServiceLevelObjective: spec.target (a percent string),
//     spec.window; indicator ratio: Bad = sum(rate(<errors>[{{.window}}])),
//     Total = sum(rate(<total>[{{.window}}])); latency: Good and Total the
//     same way from success (a _bucket{le=...} selector) and total, and
//     LatencyThreshold from the le value (in seconds unless the metric name
//     says milliseconds/microseconds); latencyNative: histogram_fraction and
//     histogram_count of the native histogram, LatencyThreshold from
//     latency; bool_gauge: Good = sum(sum_over_time(M[{{.window}}])),
//     Total = sum(count_over_time(M[{{.window}}])). Pyrra has no service
//     field, so Service is empty; grouping is ignored (the queries sum over
//     everything).
//
// Queries are trimmed of surrounding white space; {{.window}} is kept where
// the file has it. When Total is empty but Good or Bad is set, that query is
// a precomputed success or error ratio rather than an event count.
package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/emac-dev/emac/internal/diag"
)

// Objective is one SLO read from a file.
type Objective struct {
	// Name is the OpenSLO/Pyrra metadata.name, or the Sloth entry's name
	// (Find also accepts "<service>-<name>" for Sloth, Sloth's SLO ID).
	Name string
	// Service is the service the SLO belongs to; empty for Pyrra.
	Service string
	// Format is one of "openslo/v1", "openslo/v1alpha",
	// "sloth/prometheus-v1", "sloth/PrometheusServiceLevel" and
	// "pyrra/v1alpha1".
	Format string
	// Target is the objective as a fraction in (0,1): Sloth objective 99.9
	// is 0.999, Pyrra target '99' is 0.99, OpenSLO target 0.999 or
	// targetPercent 99.9 is 0.999.
	Target float64
	// Window is the SLO's time window; 0 when the file does not say (an
	// OpenSLO SLO without a timeWindow): callers default it. Sloth files
	// never say and get Sloth's default, 30d.
	Window time.Duration
	// Good, Bad and Total are PromQL queries (Good or Bad, with Total);
	// {{.window}} is kept where present; empty when unknown.
	Good, Bad, Total string
	// LatencyThreshold is set for latency SLOs (Pyrra latency indicators,
	// OpenSLO threshold objectives with op lt/lte whose unit is known),
	// else 0.
	LatencyThreshold time.Duration
	// Filename is the file the SLO was read from, as given to Read.
	Filename string
	// Line and Column locate the SLO for diagnostics: the document's kind
	// key, or the Sloth slos[] entry.
	Line, Column int
}

// Formats, as found in Objective.Format.
const (
	// FormatOpenSLOv1 is an OpenSLO apiVersion openslo/v1 kind SLO.
	FormatOpenSLOv1 = "openslo/v1"
	// FormatOpenSLOv1alpha is an OpenSLO apiVersion openslo/v1alpha kind SLO.
	FormatOpenSLOv1alpha = "openslo/v1alpha"
	// FormatSloth is an entry of a Sloth version: prometheus/v1 file.
	FormatSloth = "sloth/prometheus-v1"
	// FormatSlothCRD is an entry of a Sloth sloth.slok.dev/v1
	// PrometheusServiceLevel.
	FormatSlothCRD = "sloth/PrometheusServiceLevel"
	// FormatPyrra is a Pyrra pyrra.dev/v1alpha1 ServiceLevelObjective.
	FormatPyrra = "pyrra/v1alpha1"
)

// SlothDefaultWindow is the SLO period Sloth uses when it is not given on
// its command line (--default-slo-period); Sloth files cannot set it.
const SlothDefaultWindow = 30 * 24 * time.Hour

// Limits that keep hostile input from exhausting memory or time.
const (
	maxAliases   = 10000
	maxDepth     = 100
	maxDocuments = 10000
)

// Read parses every SLO in one file's contents (multi-document YAML).
// Documents that are not SLOs of a known format (e.g. OpenSLO DataSource, emac Journey, anything else)
// are skipped silently; malformed SLO documents produce diagnostics with file:line:col.
func Read(filename string, data []byte) (objs []Objective, ds diag.Diagnostics) {
	r := &reader{file: filename}
	defer func() {
		// The YAML parser is not ours; whatever it does, Read answers with
		// a diagnostic rather than a crash.
		if p := recover(); p != nil {
			objs = nil
			ds = append(r.ds, &diag.Diagnostic{Severity: diag.Error, Summary: fmt.Sprintf("cannot parse YAML: %v", p), Subject: &diag.Range{Filename: filename}})
		}
	}()
	docs := r.parse(data)
	r.collectSLIs(docs)
	for _, doc := range docs {
		if r.aborted {
			break
		}
		r.object(doc, 0)
	}
	if r.aborted {
		return nil, r.ds
	}
	return r.objs, r.ds
}

// Find returns the objective with the given name from objs (exact match on Name, then on "<service>-<name>" for Sloth) — nil if none.
func Find(objs []Objective, name string) *Objective {
	for i := range objs {
		if objs[i].Name == name {
			return &objs[i]
		}
	}
	for i := range objs {
		o := &objs[i]
		if (o.Format == FormatSloth || o.Format == FormatSlothCRD) && o.Service != "" && o.Service+"-"+o.Name == name {
			return o
		}
	}
	return nil
}

// reader holds the state of one Read.
type reader struct {
	file       string
	ds         diag.Diagnostics
	objs       []Objective
	slis       map[string]*yaml.Node // OpenSLO v1 kind SLI specs by metadata.name
	aliasNodes int                   // alias expansions in the file, fully expanded
	aliases    int                   // alias expansions while reading
	aborted    bool
	memo       map[*yaml.Node]int  // alias expansions by node
	active     map[*yaml.Node]bool // nodes being counted, to catch cycles
	cyclic     bool                // an alias inside its own anchor was seen
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse splits data into documents' root nodes, checking nesting depth and
// the number of aliases.
func (r *reader) parse(data []byte) []*yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.yamlError(err)
			break
		}
		if n > maxDocuments {
			r.ds.Errorf(&diag.Range{Filename: r.file, Start: diag.Pos{Line: max(doc.Line, 1), Column: 1}}, "more than %d YAML documents", maxDocuments)
			r.aborted = true
			return nil
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if bad := r.check(root, 1); bad != nil {
			if r.aborted {
				return nil
			}
			continue
		}
		docs = append(docs, root)
	}
	return docs
}

func (r *reader) yamlError(err error) {
	rng := &diag.Range{Filename: r.file}
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLine.FindStringSubmatch(line); m != nil {
			if n, e := strconv.Atoi(m[1]); e == nil && n > 0 {
				rng.Start = diag.Pos{Line: n, Column: 1}
			}
			msg = m[2]
			break
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	r.ds.Errorf(rng, "invalid YAML: %s", msg)
}

// check reports a document nested deeper than maxDepth, and a file whose
// aliases would expand more than maxAliases times (a "billion laughs"), or
// endlessly (an alias inside its own anchor). It returns the offending
// node, or nil.
func (r *reader) check(root *yaml.Node, depth int) *yaml.Node {
	if bad := r.depth(root, depth); bad != nil {
		r.ds.Errorf(r.at(bad), "document nests deeper than %d levels", maxDepth)
		return bad
	}
	if r.memo == nil {
		r.memo, r.active = map[*yaml.Node]int{}, map[*yaml.Node]bool{}
	}
	if bad := r.expand(root); bad != nil {
		if r.cyclic {
			r.ds.Errorf(r.at(bad), "YAML alias *%s is inside its own anchor", bad.Value)
			r.aborted = true
		} else {
			r.tooManyAliases(bad)
		}
		return bad
	}
	return nil
}

// depth finds a node deeper than maxDepth, not following aliases.
func (r *reader) depth(n *yaml.Node, depth int) *yaml.Node {
	if n == nil {
		return nil
	}
	if depth > maxDepth {
		return n
	}
	for _, c := range n.Content {
		if bad := r.depth(c, depth+1); bad != nil {
			return bad
		}
	}
	return nil
}

// expand adds the alias expansions of n's top-level aliases to the file's
// count, returning the alias at which the count passed maxAliases.
func (r *reader) expand(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		r.aliasNodes += r.expansions(n)
		if r.aliasNodes > maxAliases {
			return n
		}
		return nil
	}
	for _, c := range n.Content {
		if bad := r.expand(c); bad != nil {
			return bad
		}
	}
	return nil
}

// expansions is the number of alias expansions it takes to expand n fully,
// saturating just past maxAliases (also for an alias inside its own anchor).
func (r *reader) expansions(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if v, ok := r.memo[n]; ok {
		return v
	}
	if r.active[n] {
		r.cyclic = true
		return maxAliases + 1
	}
	r.active[n] = true
	total := 0
	if n.Kind == yaml.AliasNode {
		total = 1 + r.expansions(n.Alias)
	} else {
		for _, c := range n.Content {
			total += r.expansions(c)
			if total > maxAliases {
				break
			}
		}
	}
	total = min(total, maxAliases+1)
	r.active[n] = false
	r.memo[n] = total
	return total
}

func (r *reader) tooManyAliases(n *yaml.Node) {
	if !r.aborted {
		r.ds.Errorf(r.at(n), "more than %d YAML alias expansions", maxAliases)
		r.aborted = true
	}
}

// Names the formats are recognised by.
const (
	openSLOGroup = "openslo"
	slothGroup   = "sloth.slok.dev"
	pyrraGroup   = "pyrra.dev"
	slothVersion = "prometheus/v1"
)

var (
	knownGroups  = []string{openSLOGroup, slothGroup, pyrraGroup}
	openSLOKinds = []string{"SLO", "SLI", "Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "BudgetAdjustment"}
	slothKinds   = []string{"PrometheusServiceLevel", "AlertWindows"}
	pyrraKinds   = []string{"ServiceLevelObjective"}
)

// object reads one top-level object (a mapping), or each object of a list
// of them (the OpenSLO SDK's form) or of a Kubernetes List.
func (r *reader) object(n *yaml.Node, depth int) {
	n = r.resolve(n)
	if n == nil || depth > 2 {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if r.aborted {
				return
			}
			r.object(c, depth+1)
		}
		return
	case yaml.MappingNode:
	default:
		return
	}
	_, api := r.get(n, "apiVersion")
	kindKey, kind := r.get(n, "kind")
	apiVersion, _ := r.plainString(api)
	kindName, _ := r.plainString(kind)
	if kindKey == nil {
		kindKey = n
	}
	group, version, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group, version = "", apiVersion
	}
	switch {
	case apiVersion == "":
		r.slothCandidate(n)
	case group == "" && version == "v1" && kindName == "List":
		if _, items := r.get(n, "items"); items != nil {
			r.object(items, depth+1)
		}
	case group == openSLOGroup:
		if !r.knownKind(kindKey, kind, kindName, openSLOKinds) {
			return
		}
		switch {
		case kindName == "SLO" && version == "v1":
			r.openSLOv1(n, kindKey)
		case kindName == "SLO" && version == "v1alpha":
			r.openSLOv1alpha(n, kindKey)
		}
	case group == slothGroup:
		if r.knownKind(kindKey, kind, kindName, slothKinds) && kindName == "PrometheusServiceLevel" && version == "v1" {
			r.slothCRD(n, kindKey)
		}
	case group == pyrraGroup:
		if r.knownKind(kindKey, kind, kindName, pyrraKinds) && version == "v1alpha1" {
			r.pyrra(n, kindKey)
		}
	default:
		// A misspelt group of a known format is an error; anything else is
		// some other kind of document.
		if s := diag.Suggest(group, knownGroups); s != "" && group != "" {
			dg := r.errorf(api, "unknown apiVersion %q", apiVersion)
			dg.Detail = fmt.Sprintf("did you mean %q?", s+"/"+version)
		}
	}
}

// knownKind reports whether kind is one of kinds; a near miss is an error.
func (r *reader) knownKind(at, kind *yaml.Node, name string, kinds []string) bool {
	for _, k := range kinds {
		if k == name {
			return true
		}
	}
	if s := diag.DidYouMean(name, kinds); s != "" {
		if kind == nil {
			kind = at
		}
		r.errorf(kind, "unknown kind %q", name).Detail = s
	}
	return false
}

// slothCandidate reads a document without apiVersion: a Sloth
// prometheus/v1 file when its version says so.
func (r *reader) slothCandidate(n *yaml.Node) {
	vKey, v := r.get(n, "version")
	version, ok := r.plainString(v)
	if vKey == nil || !ok {
		return
	}
	if version == slothVersion {
		r.sloth(n, vKey)
		return
	}
	// Other tools have a top-level version too (docker compose); only a
	// file shaped like Sloth's with a misspelt version is an error.
	if k, _ := r.get(n, "slos"); k == nil {
		return
	}
	group, _, _ := strings.Cut(version, "/")
	if diag.Suggest(group, []string{"prometheus"}) != "" {
		dg := r.errorf(v, "unknown Sloth version %q", version)
		dg.Detail = fmt.Sprintf("did you mean %q?", slothVersion)
	}
}

func (r *reader) add(o Objective, at *yaml.Node) {
	o.Filename = r.file
	o.Line, o.Column = at.Line, at.Column
	r.objs = append(r.objs, o)
}
