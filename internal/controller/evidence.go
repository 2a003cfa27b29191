package controller

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// ReasonDeltaInvalid is the Warning Event of a ModelDelta whose spec
// cannot be weighed as evidence.
const ReasonDeltaInvalid = "DeltaInvalid"

// deltaJourney maps a ModelDelta to the journey its spec.journey names:
// any change of the delta (its phase included) can change that journey's
// observed decision.
func deltaJourney(_ context.Context, o client.Object) []reconcile.Request {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	name, _, _ := unstructured.NestedString(u.Object, "spec", "journey")
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: u.GetNamespace(), Name: name}}}
}

// weighed says whether a delta in phase is evidence: Pending and Approved
// ones are, as `emac gate --evidence` weighs a delta not yet accepted. A
// delta without a phase is new, and about to be marked Pending.
func weighed(phase string) bool {
	return phase == "" || phase == kubev1.PhasePending || phase == kubev1.PhaseApproved
}

// evidence reads the ModelDeltas of namespace that name journey and are
// weighed, as the deltas `emac gate --evidence` reads from files, and
// their object names. A delta whose spec does not decode is skipped:
// it must not hold every other delta, or the journey, back.
func (r *JourneyReconciler) evidence(ctx context.Context, namespace, journey string) ([]*wire.ModelDelta, []string, error) {
	l := newList(modelDeltaListGVK)
	if err := r.cache.List(ctx, l, client.InNamespace(namespace)); err != nil {
		return nil, nil, err
	}
	var mds []*wire.ModelDelta
	var names []string
	for i := range l.Items {
		u := &l.Items[i]
		if name, _, _ := unstructured.NestedString(u.Object, "spec", "journey"); name != journey {
			continue
		}
		if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); !weighed(phase) {
			continue
		}
		spec, err := decodeDeltaSpec(u.Object["spec"])
		if err != nil {
			r.badDelta(ctx, u, err)
			continue
		}
		// No spec file exists in the cluster: a digest would have the
		// Governor read a file of the controller's working directory.
		spec.Spec, spec.SpecDigest = "", ""
		mds = append(mds, &wire.ModelDelta{APIVersion: wire.APIVersion, Kind: wire.KindModelDelta, ModelDeltaSpec: spec})
		names = append(names, "modeldelta/"+u.GetName())
	}
	return mds, names, nil
}

// decodeDeltaSpec decodes a stored spec as service.ReadDeltas decodes a
// file's delta: through JSON, unknown fields ignored.
func decodeDeltaSpec(spec any) (wire.ModelDeltaSpec, error) {
	var out wire.ModelDeltaSpec
	b, err := json.Marshal(spec)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

// badDelta logs a delta that cannot be weighed, with a Warning Event on it
// once per generation: observed mode re-evaluates every interval, and
// would otherwise repeat the Event as often.
func (r *JourneyReconciler) badDelta(ctx context.Context, u *unstructured.Unstructured, err error) {
	logr.FromContextOrDiscard(ctx).Info("ModelDelta not weighed as evidence", "modelDelta", u.GetName(), "error", err.Error())
	if r.badDeltas.first(u.GetUID(), u.GetGeneration()) {
		r.recorder.Event(u, "Warning", ReasonDeltaInvalid, firstLine("not weighed as evidence: its spec does not decode: "+err.Error()))
	}
}

// badDeltas remembers the generation of each delta an Event was recorded
// for.
type badDeltas struct {
	mu sync.Mutex
	m  map[types.UID]int64
}

// first says whether uid's generation is reported for the first time.
func (b *badDeltas) first(uid types.UID, generation int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.m[uid]; ok && g == generation {
		return false
	}
	if b.m == nil {
		b.m = map[types.UID]int64{}
	}
	b.m[uid] = generation
	return true
}
