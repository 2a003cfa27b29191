package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
)

// applyResult is what applying a journey's artifacts did.
type applyResult struct {
	// refs name every object, applied or skipped, sorted by kind and name.
	refs    []kubev1.ArtifactRef
	applied int
	// skipped names the kinds not served, e.g. "MetricTemplate
	// (flagger.app/v1beta1)".
	skipped []string
	// err is the first failure; permanent when retrying cannot help (the
	// API server refused the object as invalid).
	err       error
	permanent bool
}

// apply applies a compiled journey's objects, and live (its live
// ConfigMap, nil when it has none), with server-side apply, skipping
// kinds the cluster does not serve and objects that are already as they
// would be applied, then deletes the journey's objects it no longer
// produces.
func (r *JourneyReconciler) apply(ctx context.Context, j *journey, c *compiled, live *unstructured.Unstructured) applyResult {
	var ar applyResult
	fail := func(err error, permanent bool) {
		if ar.err == nil {
			ar.err, ar.permanent = err, permanent
		}
	}
	objs, err := decodeArtifacts(c.Journey.Files)
	if err != nil {
		fail(err, true)
		return ar
	}
	if live != nil {
		objs = append(objs, live)
	}
	ds, err := prepare(j, objs, r.kinds)
	if err != nil {
		fail(err, false)
		return ar
	}
	cluster := false
	for i := range ds {
		cluster = cluster || (!ds[i].skipped && !ds[i].namespaced)
	}
	if cluster && !slices.Contains(j.Finalizers, Finalizer) {
		// Before the objects exist: a journey deleted in between must
		// still have them cleaned up.
		if err := r.setFinalizer(ctx, j, true); err != nil {
			fail(fmt.Errorf("adding finalizer %s: %w", Finalizer, err), false)
			return ar
		}
	}
	jk := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	keep := map[objectKey]bool{}
	for i := range ds {
		d := &ds[i]
		if !d.skipped {
			if err := r.applyOne(ctx, jk, d); err != nil {
				fail(fmt.Errorf("%s %s: %w", d.gvk.Kind, d.obj.GetName(), err), apierrors.IsInvalid(err) || apierrors.IsBadRequest(err))
				keep[d.key()] = true // never delete what failed to apply
			} else if !d.skipped {
				keep[d.key()] = true
				if d.gvk != configMapGVK {
					ar.applied++
				}
			}
		}
		if d.gvk == configMapGVK {
			continue // state, not an artifact: not in status.artifacts
		}
		if d.skipped {
			ar.skipped = appendUnique(ar.skipped, fmt.Sprintf("%s (%s)", d.gvk.Kind, d.gvk.GroupVersion()))
		}
		ar.refs = append(ar.refs, kubev1.ArtifactRef{APIVersion: d.gvk.GroupVersion().String(), Kind: d.gvk.Kind, Name: d.obj.GetName(), Skipped: d.skipped})
	}
	if ar.err != nil {
		// Deleting while the new objects are not all in place could leave
		// the journey with neither; prune next time.
		return ar
	}
	remaining, err := r.prune(ctx, j, ds, keep)
	if err != nil {
		fail(err, false)
		return ar
	}
	if !cluster && remaining == 0 && slices.Contains(j.Finalizers, Finalizer) {
		if err := r.setFinalizer(ctx, j, false); err != nil {
			fail(fmt.Errorf("removing finalizer %s: %w", Finalizer, err), false)
		}
	}
	return ar
}

// setFinalizer adds or removes the controller's finalizer with a patch of
// the metadata alone: an update would send the spec back, taking its
// fields from the user's field manager.
func (r *JourneyReconciler) setFinalizer(ctx context.Context, j *journey, on bool) error {
	m := j.ref()
	base := m.DeepCopy()
	if on {
		controllerutil.AddFinalizer(m, Finalizer)
	} else {
		controllerutil.RemoveFinalizer(m, Finalizer)
	}
	// the optimistic lock keeps another writer's finalizers
	if err := r.client.Patch(ctx, m, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	j.ObjectMeta = m.ObjectMeta
	return nil
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// applyOne applies d unless the live object already is what it would
// apply. A kind the API server turns out not to serve (its CRD was just
// deleted) marks d skipped.
func (r *JourneyReconciler) applyOne(ctx context.Context, jk types.NamespacedName, d *desired) error {
	if err := r.watch(ctx, d.gvk); err != nil {
		return err
	}
	live, err := r.live(ctx, d.gvk, d.obj.GetNamespace(), d.obj.GetName())
	if err != nil && !notServed(err) {
		return err
	}
	if err == nil && r.applied.upToDate(jk, d, live) {
		return nil
	}
	obj := d.obj.DeepCopy()
	err = r.client.Patch(ctx, obj, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership)
	if notServed(err) {
		r.kinds.missing(d.gvk)
		r.unwatch(ctx, d.gvk)
		d.skipped = true
		return nil
	}
	if err != nil {
		return err
	}
	r.applied.set(jk, d.key(), appliedState{digest: d.digest, uid: obj.GetUID(), generation: obj.GetGeneration(), rv: obj.GetResourceVersion()})
	return nil
}

// notServed says whether err means the kind is not served: discovery does
// not know it, or the API server answers 404 for its resource path (which
// server-side apply, creating what is missing, never answers for an
// object).
func notServed(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || apierrors.IsNotFound(err))
}

// live returns the cached metadata of an object, nil when there is none.
func (r *JourneyReconciler) live(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	err := r.cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, m)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// owned lists the journey's objects of kind gvk: labelled with it (the
// index holds the labels), and,
// when namespaced, controlled by it (its uid), so that objects applied by
// hand with the same labels are left alone.
func (r *JourneyReconciler) owned(ctx context.Context, j *journey, gvk schema.GroupVersionKind, namespaced bool) ([]metav1.PartialObjectMetadata, error) {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	opts := []client.ListOption{client.MatchingFields{indexJourney: j.Namespace + "/" + j.Name}}
	if namespaced {
		opts = append(opts, client.InNamespace(j.Namespace))
	}
	if err := r.cache.List(ctx, l, opts...); err != nil {
		return nil, err
	}
	var out []metav1.PartialObjectMetadata
	for _, o := range l.Items {
		if namespaced {
			ref := metav1.GetControllerOf(&o)
			if ref == nil || ref.UID != j.UID {
				continue
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// prune deletes the journey's objects of every served managed kind that
// are not in keep, and returns how many cluster-scoped objects of the
// journey remain.
func (r *JourneyReconciler) prune(ctx context.Context, j *journey, ds []desired, keep map[objectKey]bool) (int, error) {
	gvks := map[schema.GroupVersionKind]bool{}
	for _, k := range managedKinds {
		gvks[k.gvk] = true
	}
	for i := range ds {
		gvks[ds[i].gvk] = true
	}
	jk := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	remaining := 0
	var errs []error
	for gvk := range gvks {
		st, err := r.kinds.lookup(gvk)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.available {
			continue
		}
		if err := r.watch(ctx, gvk); err != nil {
			errs = append(errs, err)
			continue
		}
		objs, err := r.owned(ctx, j, gvk, st.namespaced)
		if notServed(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range objs {
			o := &objs[i]
			k := objectKey{gvk: gvk, namespace: o.Namespace, name: o.Name}
			if keep[k] {
				if !st.namespaced {
					remaining++
				}
				continue
			}
			if err := r.delete(ctx, gvk, o); err != nil {
				errs = append(errs, err)
				if !st.namespaced {
					remaining++
				}
				continue
			}
			r.applied.forget(jk, k)
		}
	}
	return remaining, errors.Join(errs...)
}

// delete deletes o unless it was replaced meanwhile (its uid changed).
func (r *JourneyReconciler) delete(ctx context.Context, gvk schema.GroupVersionKind, o *metav1.PartialObjectMetadata) error {
	if o.DeletionTimestamp != nil {
		return nil
	}
	d := &metav1.PartialObjectMetadata{}
	d.SetGroupVersionKind(gvk)
	d.SetNamespace(o.Namespace)
	d.SetName(o.Name)
	uid := o.UID
	err := r.client.Delete(ctx, d, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s %s: %w", gvk.Kind, strings.TrimPrefix(o.Namespace+"/"+o.Name, "/"), err)
	}
	return nil
}

// finalize cleans up after a deleted journey: its cluster-scoped objects,
// which the garbage collector cannot tie to it (namespaced ones go with
// their owner reference), then the finalizer.
func (r *JourneyReconciler) finalize(ctx context.Context, j *journey) error {
	jk := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	r.metrics.forget(jk)
	if !slices.Contains(j.Finalizers, Finalizer) {
		return nil
	}
	var errs []error
	for _, k := range managedKinds {
		st, err := r.kinds.lookup(k.gvk)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.available || st.namespaced {
			continue
		}
		if err := r.watch(ctx, k.gvk); err != nil {
			errs = append(errs, err)
			continue
		}
		objs, err := r.owned(ctx, j, k.gvk, false)
		if err != nil && !notServed(err) {
			errs = append(errs, err)
			continue
		}
		for i := range objs {
			if err := r.delete(ctx, k.gvk, &objs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := r.setFinalizer(ctx, j, false); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	r.applied.forgetJourney(jk)
	r.written.forget(jk)
	return nil
}
