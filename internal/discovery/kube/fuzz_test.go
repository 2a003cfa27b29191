package kube

import (
	"bytes"
	"context"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read: it must never panic or fail,
// every problem must say where and what, and the lookups must agree with
// the pods and nodes read.
func FuzzRead(f *testing.F) {
	// The fixture is too large a seed (the fuzzer spends its time
	// minimizing what it derives from 50 kB): a pod and a node of it,
	// pruned to what is read.
	f.Add([]byte(`{"apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"pod-template-hash":"6b8c9d7f54"},"name":"checkoutservice-6b8c9d7f54-p9q8r","namespace":"shop","ownerReferences":[{"apiVersion":"apps/v1","blockOwnerDeletion":true,"controller":true,"kind":"ReplicaSet","name":"checkoutservice-6b8c9d7f54"}]},"spec":{"nodeName":"gke-shop-pool-1-d41b9e07-q2w8"},"status":{"phase":"Running"}},{"apiVersion":"v1","kind":"Node","metadata":{"labels":{"emac.dev/failure-domain":"rack-b7","failure-domain.beta.kubernetes.io/region":"europe-west1","failure-domain.beta.kubernetes.io/zone":"europe-west1-c","kubernetes.io/hostname":"gke-shop-pool-1-d41b9e07-q2w8"},"name":"gke-shop-pool-1-d41b9e07-q2w8"}}],"kind":"List","metadata":{"resourceVersion":""}}`))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {kind: Pod, metadata: {name: p, labels: {app: a}, ownerReferences: [{kind: ReplicaSet, name: a-5d8f7c9b6d, controller: true}]}, spec: {nodeName: n}}\n- {kind: Node, metadata: {name: n, labels: {topology.kubernetes.io/zone: z, emac.dev/failure-domain: d}}}\n"))
	f.Add([]byte(`{"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "p"}}, {"metadata": {"name": "p"}}]}`))
	f.Add([]byte("kind: NodeList\nitems: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, probs, err := Read(context.Background(), "f.json", bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, p := range probs {
			if p.Pos.File != "f.json" || p.Detail == "" {
				t.Errorf("problem without a position or a detail: %+v", p)
			}
		}
		for i := range topo.Pods {
			p := &topo.Pods[i]
			if topo.PodIn(p.Namespace, p.Name) != p {
				t.Errorf("PodIn(%q, %q) does not find the pod", p.Namespace, p.Name)
			}
			if p.Node.Value != "" && topo.Node(p.Node.Value) != nil && p.Zone != topo.Node(p.Node.Value).Zone {
				t.Errorf("pod %s: zone %v differs from its node's", p.Name, p.Zone)
			}
		}
		n := 0
		for _, s := range topo.Services() {
			n += len(topo.Service(s))
		}
		if n != len(topo.Pods) {
			t.Errorf("services hold %d pods, want %d", n, len(topo.Pods))
		}
	})
}
