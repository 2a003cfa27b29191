package kubetest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestRestart: objects survive a restart of the API server, and the same
// client reaches it again, twice over (the second restart reuses the kept
// certificates).
func TestRestart(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if err := s.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if err := s.Restart(); err != nil {
			t.Fatalf("restart %d: %v", round, err)
		}
		got := &corev1.ConfigMap{}
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("restart %d: get: got %v, want the ConfigMap", round, err)
		}
		if got.Data["k"] != "v" {
			t.Errorf("restart %d: data: got %v, want k=v", round, got.Data)
		}
	}
	if err := s.Client.Delete(ctx, cm); err != nil {
		t.Error(err)
	}
}
