package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
}

func (r *ModelDeltaReconciler) setup(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).
		Named("modeldelta").
		For(&kubev1.ModelDelta{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// Reconcile sets a new delta's phase to Pending; a phase set by a person
// is left as it is.
func (r *ModelDeltaReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	md := &kubev1.ModelDelta{}
	if err := r.Client.Get(ctx, req.NamespacedName, md); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if md.Status.Phase != "" && md.Status.ObservedGeneration == md.Generation {
		return reconcile.Result{}, nil
	}
	if md.Status.Phase == "" {
		md.Status.Phase = kubev1.PhasePending
		md.Status.Message = "awaiting review: approve it by setting status.phase, or accept it into the spec with emac accept"
	}
	md.Status.ObservedGeneration = md.Generation
	err := r.Client.Status().Update(ctx, md)
	if apierrors.IsConflict(err) {
		return reconcile.Result{Requeue: true}, nil
	}
	return reconcile.Result{}, err
}
