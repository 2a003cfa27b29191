package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	"github.com/emac-dev/emac/internal/emit"
)

// Labels and annotations on every applied object. managed-by and the
// journey label are what `emac compile` writes too; the namespace label is
// the controller's own, so that objects applied by hand from `emac
// compile` are never taken for the controller's and deleted.
const (
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedByValue        = "emac"
	LabelJourney          = "emac.dev/journey"
	LabelJourneyNamespace = "emac.dev/journey-namespace"
	// AnnotationDigest is a digest of what the controller applied, so that
	// an unchanged object is not applied again.
	AnnotationDigest = "emac.dev/digest"
	// Finalizer is on a Journey while it has cluster-scoped objects
	// (admission policies), which owner references cannot garbage-collect.
	Finalizer = "emac.dev/cleanup"
)

// objectFiles are the artifacts that are Kubernetes objects. The others
// (Prometheus rule files, promtool tests, OpenSLO and Sloth files, Rego,
// reports, snippets to paste into a Rollout or Canary) are not applied.
var objectFiles = []string{
	"prometheus/prometheusrule.yaml",
	"argo/analysistemplate.yaml",
	"flagger/metrictemplate.yaml",
	"guards/*.vap.yaml",
}

// managedKind is a kind the emitters produce; crd names its
// CustomResourceDefinition ("" for a built-in API).
type managedKind struct {
	gvk schema.GroupVersionKind
	crd string
}

// managedKinds are every kind objectFiles hold: the controller lists them
// to delete what a journey no longer produces, and watches their CRDs.
var managedKinds = []managedKind{
	{schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}, "prometheusrules.monitoring.coreos.com"},
	{schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisTemplate"}, "analysistemplates.argoproj.io"},
	{schema.GroupVersionKind{Group: "flagger.app", Version: "v1beta1", Kind: "MetricTemplate"}, "metrictemplates.flagger.app"},
	{schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"}, ""},
	{schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"}, ""},
	// not an artifact: the live variables the policies read (live.go)
	{configMapGVK, ""},
}

// isObjectFile says whether an artifact is applied.
func isObjectFile(p string) bool {
	for _, pat := range objectFiles {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// decodeArtifacts reads the objects of a journey's applicable artifacts.
func decodeArtifacts(files []emit.File) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		if !isObjectFile(f.Path) {
			continue
		}
		dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(f.Data), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Path, err)
			}
			if m == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
				return nil, fmt.Errorf("%s: an object without apiVersion, kind or name", f.Path)
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// kindState is what the controller knows of a kind's API.
type kindState struct {
	available  bool
	namespaced bool
}

// kinds caches, per kind, whether the cluster serves it: a lookup of a
// missing kind costs discovery requests, and every reconcile asks. Entries
// are dropped when a CustomResourceDefinition changes.
type kinds struct {
	mapper meta.RESTMapper
	mu     sync.Mutex
	m      map[schema.GroupVersionKind]kindState
}

func newKinds(mapper meta.RESTMapper) *kinds {
	return &kinds{mapper: mapper, m: map[schema.GroupVersionKind]kindState{}}
}

// lookup says whether gvk is served, and whether it is namespaced. The
// error is for discovery failing, not for a missing kind.
func (k *kinds) lookup(gvk schema.GroupVersionKind) (kindState, error) {
	k.mu.Lock()
	st, ok := k.m[gvk]
	k.mu.Unlock()
	if ok {
		return st, nil
	}
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	switch {
	case meta.IsNoMatchError(err):
		st = kindState{}
	case err != nil:
		return kindState{}, err
	default:
		st = kindState{available: true, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}
	}
	k.mu.Lock()
	k.m[gvk] = st
	k.mu.Unlock()
	return st, nil
}

// missing records that gvk is not served (its CRD was deleted, or the API
// server answered 404 although discovery still listed it).
func (k *kinds) missing(gvk schema.GroupVersionKind) {
	k.mu.Lock()
	k.m[gvk] = kindState{}
	k.mu.Unlock()
}

// forget drops what is known of gvk, so that it is looked up again.
func (k *kinds) forget(gvk schema.GroupVersionKind) {
	k.mu.Lock()
	delete(k.m, gvk)
	k.mu.Unlock()
}

// desired is one object a journey produces, ready to apply.
type desired struct {
	obj    *unstructured.Unstructured
	gvk    schema.GroupVersionKind
	digest string
	// skipped: the kind is not served.
	skipped    bool
	namespaced bool
}

// prepare turns a journey's artifact objects into the objects to apply:
// namespaced ones go to the journey's namespace with the journey as their
// controller; cluster-scoped ones (admission policies) get the namespace
// in their names, as two namespaces may hold journeys of one name. Every
// object is labelled with its journey and carries a digest of itself.
func prepare(j metav1.Object, objs []*unstructured.Unstructured, ks *kinds) ([]desired, error) {
	out := make([]desired, 0, len(objs))
	renamed := map[string]string{} // cluster-scoped policy names
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		st, err := ks.lookup(gvk)
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", gvk, err)
		}
		d := desired{obj: o.DeepCopy(), gvk: gvk, skipped: !st.available, namespaced: st.namespaced}
		if d.skipped {
			out = append(out, d)
			continue
		}
		u := d.obj
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelManagedBy] = ManagedByValue
		labels[LabelJourney] = j.GetName()
		labels[LabelJourneyNamespace] = j.GetNamespace()
		u.SetLabels(labels)
		if st.namespaced {
			u.SetNamespace(j.GetNamespace())
			yes := true
			u.SetOwnerReferences([]metav1.OwnerReference{{
				APIVersion: kubev1.GroupVersion.String(), Kind: "Journey", Name: j.GetName(), UID: j.GetUID(),
				Controller: &yes, BlockOwnerDeletion: &yes,
			}})
		} else {
			u.SetNamespace("")
			name := clusterName(j.GetNamespace(), u.GetName())
			if gvk.Kind == "ValidatingAdmissionPolicy" {
				renamed[u.GetName()] = name
			}
			u.SetName(name)
		}
		out = append(out, d)
	}
	for i := range out {
		d := &out[i]
		if d.skipped {
			continue
		}
		if d.gvk.Kind == "ValidatingAdmissionPolicyBinding" {
			if p, ok, _ := unstructured.NestedString(d.obj.Object, "spec", "policyName"); ok && renamed[p] != "" {
				if err := unstructured.SetNestedField(d.obj.Object, renamed[p], "spec", "policyName"); err != nil {
					return nil, err
				}
			}
		}
		b, err := json.Marshal(d.obj.Object) // maps marshal with sorted keys
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		d.digest = hex.EncodeToString(sum[:16])
		ann := d.obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationDigest] = d.digest
		d.obj.SetAnnotations(ann)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].gvk.Kind != out[b].gvk.Kind {
			return out[a].gvk.Kind < out[b].gvk.Kind
		}
		return out[a].obj.GetName() < out[b].obj.GetName()
	})
	return out, nil
}

// clusterName is a cluster-scoped object's name for a journey's namespace:
// "<namespace>.<name>", unambiguous because neither holds a dot.
func clusterName(namespace, name string) string { return namespace + "." + name }

// objectKey identifies an applied object.
type objectKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

func (d *desired) key() objectKey {
	return objectKey{gvk: d.gvk, namespace: d.obj.GetNamespace(), name: d.obj.GetName()}
}

// appliedState is what the controller last applied to an object and what
// the API server made of it: when the live object still has that uid and
// generation, nobody changed it since. Kinds without a generation
// (ConfigMaps: it stays 0) are compared by resourceVersion instead, so
// that an edit of the live values is put back.
type appliedState struct {
	digest     string
	uid        types.UID
	generation int64
	rv         string
}

// applied remembers, per journey and object, the last apply, so that an
// unchanged object is not applied again but one edited by someone else is.
type applied struct {
	mu sync.Mutex
	m  map[types.NamespacedName]map[objectKey]appliedState
}

func newApplied() *applied { return &applied{m: map[types.NamespacedName]map[objectKey]appliedState{}} }

func (a *applied) get(j types.NamespacedName, k objectKey) (appliedState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.m[j][k]
	return s, ok
}

func (a *applied) set(j types.NamespacedName, k objectKey, s appliedState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m[j] == nil {
		a.m[j] = map[objectKey]appliedState{}
	}
	a.m[j][k] = s
}

func (a *applied) forget(j types.NamespacedName, k objectKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m[j], k)
}

// forgetJourney drops the records of a journey's objects.
func (a *applied) forgetJourney(j types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, j)
}

// upToDate says whether live (the cached metadata of the object, nil when
// there is none) already is what d would apply for journey j.
func (a *applied) upToDate(j types.NamespacedName, d *desired, live *metav1.PartialObjectMetadata) bool {
	if live == nil || live.DeletionTimestamp != nil {
		return false // created, or deleted by someone: apply
	}
	ours := live.Annotations[AnnotationDigest] == d.digest
	for k, v := range d.obj.GetLabels() {
		ours = ours && live.Labels[k] == v
	}
	k := d.key()
	s, ok := a.get(j, k)
	switch {
	case !ok:
		if !ours {
			return false
		}
		// Applied before this process started: the digest says it is ours
		// and current; from now on, its generation tells edits.
		a.set(j, k, appliedState{digest: d.digest, uid: live.UID, generation: live.Generation, rv: live.ResourceVersion})
		return true
	case s.digest != d.digest || s.uid != live.UID:
		return false // the journey changed, or the object was replaced
	case s.generation == 0:
		// no generation: any other version is someone's edit, or the
		// cache lagging, which costs one apply that changes nothing
		return live.ResourceVersion == s.rv && ours
	case live.Generation < s.generation:
		return true // the cache has not seen the last apply yet
	}
	return live.Generation == s.generation && ours
}
