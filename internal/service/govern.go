package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/singleflight"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/bounds"
	"github.com/emac-dev/emac/internal/diag"
	"github.com/emac-dev/emac/internal/guard"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/observe"
)

// GovernorOptions configure a Governor; the zero value is the default
// (no cache, no evidence, no latency histograms).
type GovernorOptions struct {
	// Options are the analysis options; Histograms, when set, is read
	// live at each evaluation over the observer's window.
	Options
	// Evidence are discovery deltas (emac discover --spec), matched to
	// journeys by name.
	Evidence []*v1alpha1.ModelDelta
	// EvidenceFiles name where Evidence was read, for the result.
	EvidenceFiles []string
	// TTL is how long an evaluation is reused (0: never).
	TTL time.Duration
	// Now is the clock of the cache and of rate limits (nil: time.Now).
	Now func() time.Time
	// Actions keeps when guarded actions ran (internal/actionlog); nil
	// denies every action with a maxPerWindow limit, which cannot be
	// kept without it.
	Actions ActionLog
}

// ActionLog is the durable history of guarded actions their rate limits
// are checked against.
type ActionLog interface {
	// History returns when the action ran, oldest first.
	History(journey, action string) ([]time.Time, error)
	// Reserve calls decide with the history and, when it returns true,
	// records now, atomically.
	Reserve(journey, action string, now time.Time, decide func(history []time.Time) bool) (bool, error)
}

// Governor takes the decisions of observed mode (SPEC §6) for a set of
// journeys: the one service behind `emac gate`, `emac guard` and `emac
// serve`. It is safe for concurrent use.
type Governor struct {
	journeys map[string]*model.Journey
	names    []string
	obs      *observe.Observer
	opts     GovernorOptions

	// stale holds the deltas made from another version of their spec
	// file than the one on disk when the Governor was made (the journeys
	// are loaded then too)
	stale map[*v1alpha1.ModelDelta]bool

	mu     sync.Mutex
	cache  map[string]cached
	group  singleflight.Group
	env    *guard.Env
	guards map[string]*guard.Guard // by journey and action
}

type cached struct {
	res     *v1alpha1.JourneyResult
	expires time.Time
}

// NewGovernor returns a Governor of js reading live values through obs.
func NewGovernor(js []*model.Journey, obs *observe.Observer, opts GovernorOptions) *Governor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Governor{journeys: map[string]*model.Journey{}, obs: obs, opts: opts, cache: map[string]cached{}, guards: map[string]*guard.Guard{}}
	for _, j := range js {
		g.journeys[j.Name] = j
		g.names = append(g.names, j.Name)
	}
	sort.Strings(g.names)
	g.stale = map[*v1alpha1.ModelDelta]bool{}
	for _, md := range opts.Evidence {
		if md.SpecDigest == "" || md.Spec == "" {
			continue
		}
		if b, err := os.ReadFile(md.Spec); err == nil {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != md.SpecDigest {
				g.stale[md] = true
			}
		}
	}
	return g
}

// Journeys lists the journeys governed, sorted.
func (g *Governor) Journeys() []string { return slices.Clone(g.names) }

// NotFoundError is a journey or action that does not exist.
type NotFoundError struct {
	What, Name string
	Candidates []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no %s %q", e.What, e.Name)
	if s := diag.DidYouMean(e.Name, e.Candidates); s != "" {
		msg += "; " + s
	}
	return msg
}

// journey looks a journey up.
func (g *Governor) journey(name string) (*model.Journey, error) {
	j, ok := g.journeys[name]
	if !ok {
		return nil, &NotFoundError{What: "journey", Name: name, Candidates: g.names}
	}
	return j, nil
}

// Gate decides a journey in observed mode, with each canary's measured
// availability in place of its component's. A result from the last TTL
// is reused; one up to a TTL older is answered while a single evaluation
// refreshes it. Results are shared and must not be modified. The error is
// for an unknown journey, a bad canary or a failure of emac itself:
// Prometheus failing gives a REVIEW.
func (g *Governor) Gate(ctx context.Context, name string, canaries []observe.Canary) (*v1alpha1.JourneyResult, error) {
	j, err := g.journey(name)
	if err != nil {
		return nil, err
	}
	key := name
	for _, c := range canaries {
		key += "\x00" + c.Component + "=" + c.Selector
	}
	eval := func() (any, error) {
		// not the caller's context: a caller gone must not fail the others
		// waiting on the same evaluation
		res, err := g.evaluate(context.WithoutCancel(ctx), j, canaries)
		if err == nil && g.opts.TTL > 0 {
			g.mu.Lock()
			g.cache[key] = cached{res: res, expires: g.opts.Now().Add(g.opts.TTL)}
			g.mu.Unlock()
		}
		return res, err
	}
	if g.opts.TTL > 0 {
		g.mu.Lock()
		c, ok := g.cache[key]
		g.mu.Unlock()
		now := g.opts.Now()
		switch {
		case ok && now.Before(c.expires):
			return c.res, nil
		case ok && now.Before(c.expires.Add(g.opts.TTL)):
			// expired less than a TTL ago: answer it while one evaluation
			// refreshes it, so that callers never queue behind Prometheus
			g.group.DoChan(key, eval)
			return c.res, nil
		}
	}
	v, err, _ := g.group.Do(key, eval)
	if err != nil {
		return nil, err
	}
	return v.(*v1alpha1.JourneyResult), nil
}

// evaluate measures and decides, uncached.
func (g *Governor) evaluate(ctx context.Context, j *model.Journey, canaries []observe.Canary) (*v1alpha1.JourneyResult, error) {
	m, err := g.obs.Measure(ctx, j, canaries)
	if err != nil {
		return nil, err
	}
	jj := j.Clone()
	for n, v := range m.Measured {
		jj.Components[n].Availability = v
	}
	var review []string // SPEC §6 step 1
	if !m.Sufficient {
		review = append(review, insufficient(m)...)
	}
	ev := g.evidence(jj, &review)
	opts := g.opts.Options
	if opts.Histograms != nil {
		opts.HistogramWindow = g.obs.Window()
		var ds diag.Diagnostics
		if err := measure(ctx, []*model.Journey{jj}, opts, &ds); err != nil {
			review = append(review, "the latency histograms could not be read: "+err.Error())
		}
		for _, d := range ds {
			review = append(review, "latency: "+d.Summary)
		}
	}
	a, err := Assess(ctx, jj, opts)
	if err != nil {
		return nil, err
	}
	res := a.Result
	res.Mode = v1alpha1.ModeObserved
	obs := &v1alpha1.Observation{Prometheus: g.obs.URL(), At: m.At.Format(time.RFC3339), Window: fmtDuration(g.obs.Window()),
		ObjectiveWindow: fmtWindow(j), Sufficient: m.Sufficient, Components: m.Components}
	if len(m.Objective) == len(measuredNames(m)) && len(m.Objective) > 0 {
		// the same model (evidence applied) at the objective window: its
		// bounds only, not the latency composition Assess would add
		oj := jj.Clone()
		for n, v := range m.Objective {
			oj.Components[n].Availability = v
		}
		if or, err := bounds.Analyze(ctx, oj, bounds.Options{MaxWork: opts.Bounds.MaxWork, SkipDerived: true}); err == nil {
			obs.Objective = &v1alpha1.ObservedBounds{Optimistic: round(or.Optimistic), Pessimistic: round(or.Pessimistic), Floor: round(or.Floor)}
		}
	}
	res.Observation = obs
	if ev != nil {
		res.Evidence = ev
		res.Confidence = ev.Confidence
		if ev.Confidence < j.Policy.MinConfidence {
			review = append(review, fmt.Sprintf("the model's confidence %.3f is below minConfidence %.3g", ev.Confidence, j.Policy.MinConfidence))
		}
	}
	switch {
	case len(review) > 0:
		res.Decision, res.Reasons = v1alpha1.DecisionReview, append(review, res.Reasons...)
	case res.Decision != v1alpha1.DecisionPass:
		// FAIL (step 2), or a bound that is not exact
	case ev != nil && len(ev.Unaccepted) > 0:
		res.Decision = v1alpha1.DecisionReview
		why := []string{"the evidence holds high-impact changes the spec has not accepted (emac accept)"}
		for _, c := range ev.Unaccepted {
			why = append(why, c.Summary)
		}
		res.Reasons = append(why, res.Reasons...)
	}
	return res, nil
}

// insufficient explains why the observation cannot pass.
func insufficient(m *observe.Result) []string {
	if m.Err != nil {
		return []string{"Prometheus could not be read, so nothing was measured: " + m.Err.Error()}
	}
	var out []string
	for _, c := range m.Components {
		if c.Status != v1alpha1.ObservedOK && c.Status != v1alpha1.ObservedContract {
			out = append(out, fmt.Sprintf("%s: %s (%s)", c.Name, c.Detail, c.Status))
		}
	}
	return out
}

func measuredNames(m *observe.Result) []string {
	var out []string
	for _, c := range m.Components {
		if c.Status != v1alpha1.ObservedContract {
			out = append(out, c.Name)
		}
	}
	return out
}

// evidence applies the journey's deltas to j: the failure domains of
// their After state (which holds the conservative assignment where a
// conflict is unresolved). It appends to review what makes the decision
// REVIEW whatever the bounds, and returns the summary (nil without
// deltas).
func (g *Governor) evidence(j *model.Journey, review *[]string) *v1alpha1.EvidenceResult {
	var mds []*v1alpha1.ModelDelta
	for _, md := range g.opts.Evidence {
		if md.Journey == j.Name {
			mds = append(mds, md)
		}
	}
	if len(mds) == 0 {
		return nil
	}
	note := func(s string) {
		if review != nil {
			*review = append(*review, s)
		}
	}
	ev := &v1alpha1.EvidenceResult{Deltas: g.opts.EvidenceFiles, Confidence: 1}
	for _, md := range mds {
		ev.Confidence = min(ev.Confidence, md.Confidence)
		if g.stale[md] {
			ev.Stale = append(ev.Stale, md.Spec)
			note(fmt.Sprintf("the evidence was discovered against another version of %s: discover again", md.Spec))
		}
		domains := false
		for _, c := range md.Changes {
			switch {
			case c.Conservative:
				ev.Conflicts = append(ev.Conflicts, c.Summary)
				domains = true
			case c.Applied && (c.Kind == v1alpha1.ChangeDomainMembership):
				domains = true
			case c.Applied && c.Kind == v1alpha1.ChangeFlow:
				note("the discovered flow differs from the spec's (" + c.Summary + "): accept or reject it before the observed bounds can use it")
			}
			if c.HighImpact && (c.Applied || c.Conservative) {
				ev.Unaccepted = append(ev.Unaccepted, v1alpha1.EvidenceChange{Kind: c.Kind, Summary: c.Summary, DeltaPessimistic: c.DeltaPessimistic})
			}
		}
		if domains {
			member := map[string][]string{}
			for d, ms := range md.After.Domains {
				for _, c := range ms {
					member[c] = append(member[c], d)
				}
			}
			for _, c := range j.ComponentNames() {
				setDomains(j, c, member[c])
			}
			for name, d := range j.Domains {
				if len(d.Members) == 0 {
					delete(j.Domains, name)
				}
			}
		}
	}
	if len(ev.Conflicts) > 0 {
		note("the evidence leaves failure domains unresolved: they are taken as shared until a person resolves them")
		for _, c := range ev.Conflicts {
			note(c)
		}
	}
	return ev
}

// fmtDuration writes a duration as Prometheus does.
func fmtDuration(d time.Duration) string { return v1alpha1.Duration(d).String() }

// ReadDeltas reads ModelDeltas from b (the file name is for messages): a
// JSON object or array, or a YAML stream, as `emac discover --spec`
// prints them.
func ReadDeltas(name string, b []byte) ([]*v1alpha1.ModelDelta, error) {
	var out []*v1alpha1.ModelDelta
	if err := json.Unmarshal(b, &out); err == nil {
		for i, md := range out {
			if md == nil || md.Kind != v1alpha1.KindModelDelta {
				return nil, fmt.Errorf("%s: item %d is not a %s", name, i, v1alpha1.KindModelDelta)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: no ModelDelta", name)
		}
		return out, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var md v1alpha1.ModelDelta
		if err := json.Unmarshal(j, &md); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if md.Kind != v1alpha1.KindModelDelta {
			return nil, fmt.Errorf("%s: a document of kind %q, want %s", name, md.Kind, v1alpha1.KindModelDelta)
		}
		out = append(out, &md)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no ModelDelta", name)
	}
	return out, nil
}

// Guard decides a request for a journey's guarded action with params: its
// CEL guard on the journey's live values (Gate's, cached alike), then its
// limits (traffic step, actions per window). An allowed request is
// recorded against the rate limit unless dryRun. Live values that could
// not be measured are unknown, and a guard reading one denies: missing
// data never allows. The error is for an unknown journey or action, or a
// failure of emac itself.
func (g *Governor) Guard(ctx context.Context, journey, action string, params map[string]any, dryRun bool) (*v1alpha1.GuardResult, error) {
	j, err := g.journey(journey)
	if err != nil {
		return nil, err
	}
	var act *model.Action
	var names []string
	for i := range j.Policy.Actions {
		names = append(names, j.Policy.Actions[i].Name)
		if j.Policy.Actions[i].Name == action {
			act = &j.Policy.Actions[i]
		}
	}
	if act == nil {
		return nil, &NotFoundError{What: "action of journey " + journey, Name: action, Candidates: names}
	}
	out := &v1alpha1.GuardResult{Journey: journey, Action: action, Guard: act.Guard, Reasons: []string{}}
	res, err := g.Gate(ctx, journey, nil)
	if err != nil {
		return nil, err
	}
	out.Decision = res.Decision
	vars := VarsOf(j, res, params)
	out.Variables = vars.Map()
	ok := true
	if act.Guard != "" {
		gd, err := g.compiled(j.Name, act)
		if err != nil {
			return nil, err
		}
		holds, err := gd.Eval(vars)
		switch {
		case err != nil:
			ok = false
			out.Reasons = append(out.Reasons, "the guard cannot be evaluated: "+err.Error())
		case !holds:
			ok = false
			out.Reasons = append(out.Reasons, "the guard does not hold: "+act.Guard)
		}
	}
	lim := guard.Limits{MaxTrafficStep: act.MaxTrafficStep, MaxPerWindow: act.MaxPerWindow, Window: act.Window}
	now := g.opts.Now()
	var violations []string
	decide := func(history []time.Time) bool {
		violations = lim.Violations(params, now, history)
		return ok && len(violations) == 0
	}
	switch {
	case lim.MaxPerWindow > 0 && g.opts.Actions == nil:
		decide(nil)
		ok = false
		out.Reasons = append(out.Reasons, "the action has a rate limit (maxPerWindow) and no action log is configured to keep it")
	case lim.MaxPerWindow == 0 || dryRun:
		var history []time.Time
		if lim.MaxPerWindow > 0 {
			if history, err = g.opts.Actions.History(journey, action); err != nil {
				return nil, err
			}
		}
		decide(history)
	default:
		if out.Recorded, err = g.opts.Actions.Reserve(journey, action, now, decide); err != nil {
			return nil, err
		}
	}
	out.Reasons = append(out.Reasons, violations...)
	out.Allowed = ok && len(violations) == 0
	if out.Allowed {
		why := "no guard"
		if act.Guard != "" {
			why = "the guard holds: " + act.Guard
		}
		out.Reasons = append(out.Reasons, why+"; every limit is kept")
	}
	return out, nil
}

// compiled returns an action's checked guard, checking it once.
func (g *Governor) compiled(journey string, act *model.Action) (*guard.Guard, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := journey + "\x00" + act.Name
	if gd, ok := g.guards[key]; ok {
		return gd, nil
	}
	if g.env == nil {
		env, err := guard.NewEnv()
		if err != nil {
			return nil, err
		}
		g.env = env
	}
	gd, issues := g.env.Check(act.Guard)
	if len(issues) > 0 {
		// the spec loader checked it: this is a bug
		return nil, fmt.Errorf("action %s: guard: %v", act.Name, issues[0])
	}
	g.guards[key] = gd
	return gd, nil
}

// VarsOf are the guard variables of a result, for `emac guard` and for
// the live values the Kubernetes controller writes for admission
// policies. The availability and latency bounds are unknown when the
// observation could not measure every component.
func VarsOf(j *model.Journey, res *v1alpha1.JourneyResult, params map[string]any) *guard.Vars {
	v := &guard.Vars{Params: params, Objective: map[string]float64{guard.ObjectiveAvailability: j.Objective.Availability}}
	if params == nil {
		v.Params = map[string]any{}
	}
	if j.Objective.Window > 0 {
		v.Objective[guard.ObjectiveWindow] = j.Objective.Window.Seconds()
	}
	if l := j.Objective.Latency; l != nil {
		v.Objective[guard.ObjectiveLatency] = l.Threshold.Seconds()
		v.Objective[guard.ObjectivePercentile] = l.Percentile
	}
	conf, conflict, decision := res.Confidence, res.Evidence != nil && len(res.Evidence.Conflicts) > 0, res.Decision
	v.Confidence, v.DomainConflict, v.Decision = &conf, &conflict, &decision
	if res.Observation == nil || res.Observation.Sufficient {
		a := res.Availability
		ap, am, af := a.Optimistic, a.Pessimistic, a.Floor
		binding := slices.Clone(a.Binding)
		v.APlus, v.AMinus, v.AFloor, v.Binding = &ap, &am, &af, &binding
		if l := res.Latency; l != nil {
			v.PUpper, v.PIndependent = l.Upper, l.Independent
		}
	}
	return v
}
