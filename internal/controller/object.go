package controller

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// Journeys, ComponentCatalogs and ModelDeltas are read as unstructured
// objects, never decoded into their Go types. Their CRD schemas cannot
// type a Ratio (a number or a percent string) or a flow, so the API server
// stores values the wire types cannot decode (target: "high", flow: 5).
// One such object would make a typed informer's every List fail, and
// every journey of the namespace, or cluster, would stop reconciling. As
// stored, the spec goes to emac's loader as it was written, and a value it
// cannot read is a spec error with its position, like any other.
var (
	journeyGVK        = kubev1.GroupVersion.WithKind(wire.KindJourney)
	journeyListGVK    = kubev1.GroupVersion.WithKind(wire.KindJourney + "List")
	catalogGVK        = kubev1.GroupVersion.WithKind(wire.KindComponentCatalog)
	catalogListGVK    = kubev1.GroupVersion.WithKind(wire.KindComponentCatalog + "List")
	modelDeltaGVK     = kubev1.GroupVersion.WithKind(wire.KindModelDelta)
	modelDeltaListGVK = kubev1.GroupVersion.WithKind(wire.KindModelDelta + "List")
)

// newObject is an empty unstructured object of kind gvk, to read into.
func newObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// newList is an empty unstructured list of kind gvk, to list into.
func newList(gvk schema.GroupVersionKind) *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk)
	return l
}

// journey is a Journey as the controller works on it: its metadata and
// status typed (the API server validates both against a complete schema),
// its spec as stored.
type journey struct {
	metav1.ObjectMeta
	// Spec is the spec as the user wrote it: only emac's loader reads it.
	Spec any
	// Status is the stored status; empty when it does not decode (someone
	// else wrote it), and the controller then writes its own.
	Status kubev1.JourneyStatus
}

// journeyFrom reads a Journey object.
func journeyFrom(u *unstructured.Unstructured) (*journey, error) {
	j := &journey{Spec: u.Object["spec"]}
	if err := j.setMeta(u); err != nil {
		return nil, err
	}
	if st, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(st, &j.Status); err != nil {
			j.Status = kubev1.JourneyStatus{}
		}
	}
	return j, nil
}

// setMeta replaces j's metadata with u's, e.g. from a write's response.
func (j *journey) setMeta(u *unstructured.Unstructured) error {
	m, _ := u.Object["metadata"].(map[string]any)
	var om metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &om); err != nil {
		return fmt.Errorf("journey %s/%s: metadata: %w", u.GetNamespace(), u.GetName(), err)
	}
	j.ObjectMeta = om
	return nil
}

// ref is j's metadata as an object of its kind: what Events refer to, and
// what metadata patches (finalizers) are made of.
func (j *journey) ref() *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: journeyGVK.GroupVersion().String(), Kind: journeyGVK.Kind},
		ObjectMeta: *j.ObjectMeta.DeepCopy(),
	}
}

// withStatus is j as stored, with status st: the body of a status update.
// The spec is sent back exactly as read (the API server ignores it on the
// status subresource anyway).
func (j *journey) withStatus(st *kubev1.JourneyStatus) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&j.ObjectMeta)
	if err != nil {
		return nil, err
	}
	s, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
	if err != nil {
		return nil, err
	}
	u := newObject(journeyGVK)
	u.Object["metadata"] = m
	u.Object["spec"] = j.Spec
	u.Object["status"] = s
	return u, nil
}

// specDoc is a spec document as the cluster stores it, to render for the
// loader.
type specDoc struct {
	Name, Namespace string
	// Spec is the object's spec, as stored (JSON values).
	Spec any
}

// doc is the journey's spec document.
func (j *journey) doc() specDoc {
	return specDoc{Name: j.Name, Namespace: j.Namespace, Spec: j.Spec}
}

// catalogDocs are the spec documents of ComponentCatalog objects.
func catalogDocs(items []unstructured.Unstructured) []specDoc {
	out := make([]specDoc, 0, len(items))
	for i := range items {
		u := &items[i]
		out = append(out, specDoc{Name: u.GetName(), Namespace: u.GetNamespace(), Spec: u.Object["spec"]})
	}
	return out
}
