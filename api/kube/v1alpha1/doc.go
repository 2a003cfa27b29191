// Package v1alpha1 holds emac's Kubernetes API (group emac.dev, version
// v1alpha1): the Journey, ComponentCatalog and ModelDelta kinds the
// controller (internal/controller) reconciles. Their specs are the wire
// types of api/v1alpha1, so that a journey in the cluster is the same
// document as a journey in Git; this package adds object metadata and
// status, and is kept apart so that the command line does not import
// apimachinery's object machinery.
//
// +kubebuilder:object:generate=true
// +groupName=emac.dev
package v1alpha1
