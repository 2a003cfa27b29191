package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
)

// ModelDeltaReconciler marks new ModelDeltas Pending, and nothing more: a
// discovered change is never applied to its Journey by the controller. A
// person approves it by setting status.phase (kubectl edit --subresource
// status), or applies it to the spec in Git with `emac accept`.
type ModelDeltaReconciler struct {
	Client client.Client
	cache  client.Reader
}

func (r *ModelDeltaReconciler) setup(mgr manager.Manager) error {
	r.cache = mgr.GetCache()
	// unstructured, as Journeys (object.go): a delta's flow is schemaless
	return builder.ControllerManagedBy(mgr).
		Named("modeldelta").
		For(newObject(modelDeltaGVK), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// Reconcile sets a new delta's phase to Pending; a phase set by a person
// is left as it is.
func (r *ModelDeltaReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	md := newObject(modelDeltaGVK)
	if err := r.cache.Get(ctx, req.NamespacedName, md); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// a field of the wrong type reads as unset, and is written over
	phase, _, _ := unstructured.NestedString(md.Object, "status", "phase")
	observed, _, _ := unstructured.NestedInt64(md.Object, "status", "observedGeneration")
	if phase != "" && observed == md.GetGeneration() {
		return reconcile.Result{}, nil
	}
	st, _, _ := unstructured.NestedMap(md.Object, "status")
	if st == nil {
		st = map[string]any{}
	}
	if phase == "" {
		st["phase"] = kubev1.PhasePending
		st["message"] = "awaiting review: approve it by setting status.phase, or accept it into the spec with emac accept"
	}
	st["observedGeneration"] = md.GetGeneration()
	md.Object["status"] = st
	err := r.Client.Status().Update(ctx, md)
	if apierrors.IsConflict(err) {
		return reconcile.Result{Requeue: true}, nil
	}
	return reconcile.Result{}, err
}
