package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/model"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/promhist"
	"github.com/emac-dev/emac/internal/service"
)

// RBAC of everything the controller touches. controller-gen reads these
// (make generate) into config/rbac/role.yaml. ConfigMaps: the API server
// lets only who may get the ConfigMaps an admission policy reads its
// parameters from (paramKind, paramRef) create the policy and its binding;
// and the controller writes those ConfigMaps (live.go).
// The leader election Lease is granted in the controller's namespace only
// (config/rbac/leader_election_role.yaml), not by this cluster-wide role.
//
// +kubebuilder:rbac:groups=emac.dev,resources=journeys,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=emac.dev,resources=journeys/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=emac.dev,resources=journeys/finalizers,verbs=update
// +kubebuilder:rbac:groups=emac.dev,resources=componentcatalogs,verbs=get;list;watch
// +kubebuilder:rbac:groups=emac.dev,resources=modeldeltas,verbs=get;list;watch
// +kubebuilder:rbac:groups=emac.dev,resources=modeldeltas/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=prometheusrules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=argoproj.io,resources=analysistemplates,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=flagger.app,resources=metrictemplates,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// JourneyReconciler reconciles Journeys: compile, apply the artifacts,
// decide, write the status.
type JourneyReconciler struct {
	client   client.Client
	cache    cache.Cache
	recorder record.EventRecorder
	opts     Options
	obs      *observe.Observer // nil: contract mode
	hist     promhist.Source
	kinds    *kinds
	applied  *applied
	written  written
	metrics  *journeyMetrics
	now      func() time.Time
	// badDeltas are the deltas reported as not weighable (evidence.go).
	badDeltas badDeltas

	ctrl    controller.Controller
	watchMu sync.Mutex
	watched map[schema.GroupVersionKind]bool
}

// newJourneyReconciler builds the reconciler on mgr's client and cache.
func newJourneyReconciler(mgr manager.Manager, opts Options, m *journeyMetrics) (*JourneyReconciler, error) {
	r := &JourneyReconciler{
		client:   mgr.GetClient(),
		cache:    mgr.GetCache(),
		recorder: mgr.GetEventRecorderFor(FieldOwner),
		opts:     opts,
		kinds:    newKinds(mgr.GetRESTMapper()),
		applied:  newApplied(),
		metrics:  m,
		now:      time.Now,
		watched:  map[schema.GroupVersionKind]bool{},
	}
	if opts.Prometheus != "" {
		obs, err := observe.New(opts.Prometheus, opts.Observe)
		if err != nil {
			return nil, fmt.Errorf("prometheus: %w", err)
		}
		r.obs = obs
		if !opts.NoHistograms {
			h, err := promhist.NewPrometheus(opts.Prometheus, promhist.PrometheusOptions{Timeout: opts.Observe.Timeout, Transport: opts.Observe.Transport})
			if err != nil {
				return nil, fmt.Errorf("prometheus: %w", err)
			}
			r.hist = h
		}
	}
	return r, nil
}

// setup registers the controller and its watches with mgr.
func (r *JourneyReconciler) setup(mgr manager.Manager) error {
	crds := map[string]bool{}
	for _, k := range managedKinds {
		if k.crd != "" {
			crds[k.crd] = true
		}
	}
	b := builder.ControllerManagedBy(mgr).
		Named("journey").
		// unstructured: see object.go
		For(newObject(journeyGVK), builder.WithPredicates(journeyChanged())).
		Watches(newObject(catalogGVK), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.journeys(ctx, o.GetNamespace())
		})).
		WatchesMetadata(&apiextensionsv1.CustomResourceDefinition{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.crdChanged(ctx, e.Object.GetName(), false, q)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.crdChanged(ctx, e.ObjectNew.GetName(), e.ObjectNew.GetDeletionTimestamp() != nil, q)
			},
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.crdChanged(ctx, e.Object.GetName(), true, q)
			},
		}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return crds[o.GetName()] })))
	if r.obs != nil {
		// Only observed mode weighs deltas: in contract mode their events
		// would reconcile journeys for nothing.
		b = b.Watches(newObject(modelDeltaGVK), handler.EnqueueRequestsFromMapFunc(deltaJourney))
	}
	c, err := b.Build(r)
	if err != nil {
		return err
	}
	r.ctrl = c
	return nil
}

// journeyChanged passes the Journey events that can change what the
// controller does: not its own status updates, which would otherwise
// trigger one more reconcile each.
func journeyChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return o.GetGeneration() != n.GetGeneration() ||
				!equalMaps(o.GetLabels(), n.GetLabels()) || !equalMaps(o.GetAnnotations(), n.GetAnnotations()) ||
				n.GetDeletionTimestamp() != nil || !slices.Equal(o.GetFinalizers(), n.GetFinalizers())
		},
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// journeys lists the requests of the journeys in namespace ("": all).
func (r *JourneyReconciler) journeys(ctx context.Context, namespace string) []reconcile.Request {
	l := newList(journeyListGVK)
	if err := r.cache.List(ctx, l, client.InNamespace(namespace)); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "listing journeys")
		return nil
	}
	out := make([]reconcile.Request, 0, len(l.Items))
	for _, j := range l.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: j.GetNamespace(), Name: j.GetName()}})
	}
	return out
}

// crdChanged reacts to a managed kind's CRD appearing, changing (e.g.
// becoming established) or going: its kinds are looked up again and every
// journey is reconciled, so that skipped artifacts get applied.
func (r *JourneyReconciler) crdChanged(ctx context.Context, name string, gone bool, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	for _, k := range managedKinds {
		if k.crd != name {
			continue
		}
		if gone {
			r.kinds.missing(k.gvk)
			r.unwatch(ctx, k.gvk)
		} else {
			r.kinds.forget(k.gvk)
		}
	}
	for _, req := range r.journeys(ctx, "") {
		q.Add(req)
	}
}

// watch makes sure the controller watches gvk's objects (their metadata:
// an edit or deletion by someone else re-reconciles their journey) and
// that the cache can list them by journey. Kinds are watched once served,
// not from the start, since a watch of a kind whose CRD is missing never
// syncs.
func (r *JourneyReconciler) watch(ctx context.Context, gvk schema.GroupVersionKind) error {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watched[gvk] {
		return nil
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	// An index, not a label selector: a selector is matched against every
	// object of the kind, for every journey reconciled.
	if err := r.cache.IndexField(ctx, obj, indexJourney, journeyIndex); err != nil {
		return err
	}
	src := source.Kind[client.Object](r.cache, obj, handler.EnqueueRequestsFromMapFunc(r.ownerJourney))
	if err := r.ctrl.Watch(src); err != nil {
		return err
	}
	r.watched[gvk] = true
	return nil
}

// indexJourney indexes applied objects by "<namespace>/<name>" of their
// journey.
const indexJourney = "emac.dev/journey"

func journeyIndex(o client.Object) []string {
	l := o.GetLabels()
	if l[LabelManagedBy] != ManagedByValue || l[LabelJourney] == "" || l[LabelJourneyNamespace] == "" {
		return nil
	}
	return []string{l[LabelJourneyNamespace] + "/" + l[LabelJourney]}
}

// unwatch stops watching a kind whose CRD was deleted: its informer would
// otherwise fail to list it forever.
func (r *JourneyReconciler) unwatch(ctx context.Context, gvk schema.GroupVersionKind) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if !r.watched[gvk] {
		return
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := r.cache.RemoveInformer(ctx, obj); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "removing informer", "kind", gvk.String())
	}
	delete(r.watched, gvk)
}

// ownerJourney maps an applied object to its journey, by its labels,
// unless the object is as the controller last applied it: the event is
// then the controller's own write, and reconciling again would find
// nothing to do.
func (r *JourneyReconciler) ownerJourney(_ context.Context, o client.Object) []reconcile.Request {
	var jk types.NamespacedName
	if v := journeyIndex(o); len(v) > 0 {
		l := o.GetLabels()
		jk = types.NamespacedName{Namespace: l[LabelJourneyNamespace], Name: l[LabelJourney]}
	} else if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Journey" && strings.HasPrefix(ref.APIVersion, kubev1.GroupVersion.Group+"/") {
		// someone removed the labels: the owner reference still tells
		jk = types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}
	} else {
		return nil
	}
	if o.GetDeletionTimestamp() == nil {
		k := objectKey{gvk: o.GetObjectKind().GroupVersionKind(), namespace: o.GetNamespace(), name: o.GetName()}
		if s, ok := r.applied.get(jk, k); ok && s.uid == o.GetUID() && s.generation == o.GetGeneration() && s.digest == o.GetAnnotations()[AnnotationDigest] &&
			(s.generation != 0 || s.rv == o.GetResourceVersion()) {
			return nil
		}
	}
	return []reconcile.Request{{NamespacedName: jk}}
}

// Reconcile brings one journey's artifacts and status up to date.
func (r *JourneyReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	u := newObject(journeyGVK)
	if err := r.cache.Get(ctx, req.NamespacedName, u); err != nil {
		if apierrors.IsNotFound(err) {
			r.applied.forgetJourney(req.NamespacedName)
			r.written.forget(req.NamespacedName)
			r.metrics.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	j, err := journeyFrom(u)
	if err != nil {
		return reconcile.Result{}, err
	}
	if j.DeletionTimestamp != nil {
		return reconcile.Result{}, r.finalize(ctx, j)
	}
	cats := newList(catalogListGVK)
	if err := r.cache.List(ctx, cats, client.InNamespace(j.Namespace)); err != nil {
		return reconcile.Result{}, err
	}
	c, err := compileJourney(ctx, j.doc(), catalogDocs(cats.Items))
	if err != nil {
		return reconcile.Result{}, err
	}
	old := j.Status.DeepCopy()
	if c.Invalid != "" {
		r.metrics.forget(req.NamespacedName)
		st := r.invalidStatus(j, c.Invalid)
		if prev := meta.FindStatusCondition(old.Conditions, kubev1.ConditionCompiled); prev == nil || prev.Status != metav1.ConditionFalse || prev.Message != c.Invalid {
			r.recorder.Event(j.ref(), "Warning", ReasonSpecInvalid, firstLine(c.Invalid))
		}
		// No requeue and no error: only a change of the journey or of a
		// catalog can fix the spec, and those are watched.
		requeue, err := r.writeStatus(ctx, j, st)
		return reconcile.Result{Requeue: requeue}, err
	}

	// Evaluated first: the live ConfigMap holding its values is applied
	// with the artifacts.
	ev := r.evaluate(ctx, j, c)
	ar := r.apply(ctx, j, c, liveConfigMap(c, ev))
	st := r.status(j, c, ar, ev)
	r.metrics.set(req.NamespacedName, ev.result)
	if old.Decision != st.Decision && st.Decision != "" && (old.Decision != "" || st.Decision != wire.DecisionPass) {
		// a change, or a first decision that is not PASS
		typ, was := "Normal", old.Decision
		if st.Decision != wire.DecisionPass {
			typ = "Warning"
		}
		if was == "" {
			was = "none"
		}
		r.recorder.Eventf(j.ref(), typ, ReasonDecisionChanged, "decision %s (was %s): %s", st.Decision, was, firstLine(strings.Join(st.Reasons, "; ")))
	}
	if ar.err != nil {
		if prev := meta.FindStatusCondition(old.Conditions, kubev1.ConditionArtifactsApplied); prev == nil || prev.Status != metav1.ConditionFalse {
			r.recorder.Event(j.ref(), "Warning", ReasonApplyFailed, firstLine(ar.err.Error()))
		}
	}
	if requeue, err := r.writeStatus(ctx, j, st); err != nil || requeue {
		return reconcile.Result{Requeue: requeue}, err
	}
	if ar.err != nil && !ar.permanent {
		// transient (the API server, RBAC being fixed): retry with backoff
		return reconcile.Result{}, ar.err
	}
	if r.obs != nil {
		if err := ar.err; err != nil {
			log.Info("artifacts not applied", "error", err.Error())
		}
		return reconcile.Result{RequeueAfter: r.opts.Interval}, nil
	}
	return reconcile.Result{}, nil
}

// writeStatus stores st unless it equals what is stored (lastEvaluated
// aside): reconciling an unchanged journey writes nothing. requeue is set
// when another write won; the status is computed again from the newer
// object.
func (r *JourneyReconciler) writeStatus(ctx context.Context, j *journey, st kubev1.JourneyStatus) (requeue bool, err error) {
	if sameStatus(&j.Status, &st) {
		return false, nil
	}
	jk := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	sj := statusJSON(&st)
	if w, ok := r.written.get(jk); ok && w.base == j.ResourceVersion {
		if w.status == sj {
			// The cache has not seen this status, written from this very
			// version, yet: writing again would only conflict.
			return false, nil
		}
		if w.rv != w.base {
			// Nor has it seen that write, so any other status computed
			// from this version (its conditions' times, say) could only
			// conflict: compute it again once the cache has caught up.
			return true, nil
		}
	}

	now := metav1.NewTime(r.now())
	st.LastEvaluated = &now
	base := j.ResourceVersion
	u, err := j.withStatus(&st)
	if err != nil {
		return false, err
	}
	err = r.client.Status().Update(ctx, u)
	if apierrors.IsConflict(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	r.written.set(jk, writtenStatus{base: base, status: sj, rv: u.GetResourceVersion()})
	j.Status = st
	return false, j.setMeta(u)
}

// writtenStatus is the last status written for a journey, the
// resourceVersion it was written over, and the one it made (the same when
// the API server found nothing to change).
type writtenStatus struct{ base, status, rv string }

// written remembers the last status written per journey.
type written struct {
	mu sync.Mutex
	m  map[types.NamespacedName]writtenStatus
}

func (w *written) get(j types.NamespacedName) (writtenStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.m[j]
	return s, ok
}

func (w *written) set(j types.NamespacedName, s writtenStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.NamespacedName]writtenStatus{}
	}
	w.m[j] = s
}

func (w *written) forget(j types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, j)
}

// firstLine is s up to its first newline, for an Event's note.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return truncate(s, 1024)
}

// evaluation is a journey's decision, in contract or observed mode.
type evaluation struct {
	mode   string
	result *wire.JourneyResult
	// fresh is the EvidenceFresh condition.
	fresh metav1.Condition
}

// evaluate decides: without Prometheus the compilation's contract result,
// with it a Governor's observed one, weighing the journey's ModelDeltas as
// `emac gate --evidence` does.
func (r *JourneyReconciler) evaluate(ctx context.Context, j *journey, c *compiled) evaluation {
	contract := c.Journey.Input.Result
	if r.obs == nil {
		return evaluation{mode: wire.ModeContract, result: contract, fresh: metav1.Condition{
			Type: kubev1.ConditionEvidenceFresh, Status: metav1.ConditionFalse, Reason: ReasonContractMode,
			Message: "no Prometheus is configured: decisions are taken on the components' SLO targets (contract mode)",
		}}
	}
	mj := c.Journey.Input.Journey
	mds, names, err := r.evidence(ctx, j.Namespace, mj.Name)
	var res *wire.JourneyResult
	if err == nil {
		gov := service.NewGovernor([]*model.Journey{mj}, r.obs, service.GovernorOptions{
			Options: service.Options{Histograms: r.hist}, Evidence: mds, EvidenceFiles: names,
		})
		res, err = gov.Gate(ctx, mj.Name, nil)
	}
	if err != nil {
		review := *contract
		review.Mode = wire.ModeObserved
		review.Decision = wire.DecisionReview
		review.Reasons = append([]string{"the observed evaluation failed: " + err.Error()}, contract.Reasons...)
		return evaluation{mode: wire.ModeObserved, result: &review, fresh: metav1.Condition{
			Type: kubev1.ConditionEvidenceFresh, Status: metav1.ConditionFalse, Reason: ReasonEvaluationFailed, Message: truncate(err.Error(), maxMessage),
		}}
	}
	ev := evaluation{mode: wire.ModeObserved, result: res}
	o := res.Observation
	measured := 0
	if o != nil {
		for _, c := range o.Components {
			if c.Status != wire.ObservedContract {
				measured++
			}
		}
	}
	switch {
	case o == nil || measured == 0:
		ev.fresh = metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoTelemetry,
			Message: "no component has telemetry queries: every one is taken at its SLO target"}
	case !o.Sufficient:
		var why []string
		for _, c := range o.Components {
			if c.Status != wire.ObservedOK && c.Status != wire.ObservedContract {
				why = append(why, fmt.Sprintf("%s: %s (%s)", c.Name, c.Detail, c.Status))
			}
		}
		if len(why) == 0 {
			why = res.Reasons
		}
		ev.fresh = metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonInsufficient, Message: truncate(strings.Join(why, "\n"), maxMessage)}
	default:
		ev.fresh = metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonSufficient,
			Message: fmt.Sprintf("%d measured components had fresh data with enough calls over %s", measured, o.Window)}
	}
	ev.fresh.Type = kubev1.ConditionEvidenceFresh
	return ev
}
