package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	"github.com/emac-dev/emac/config/crd"
	"github.com/emac-dev/emac/internal/controller"
	"github.com/emac-dev/emac/internal/kubetest"
)

func TestControllerFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"--interval", "0s"}, "--interval 0s is not positive"},
		{[]string{"--window", "an hour"}, `--window "an hour" is not a positive Prometheus duration`},
		{[]string{"--freshness", "-5m"}, "--freshness"},
		{[]string{"--prometheus", "prometheus:9090"}, "--prometheus:"},
		{[]string{"--log-format", "xml"}, "--log-format: use json or text"},
		{[]string{"--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "kubeconfig:"},
		{[]string{"a-journey"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, "", append([]string{"controller", "--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, tt.args...)...)
			if code != ExitError || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", code, stderr, ExitError, tt.want)
			}
		})
	}
}

// syncBuffer is a buffer the controller's loggers may write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestController runs `emac controller` as a user would, with a
// kubeconfig file, against a real API server: a journey becomes Ready,
// and the command exits 0 when its context ends.
func TestController(t *testing.T) {
	srv := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.InstallCRDs(ctx, crd.YAML()); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: srv.Config.Host, CertificateAuthorityData: srv.Config.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: srv.Config.CertData, ClientKeyData: srv.Config.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cli-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(shopSpec)
	if err != nil {
		t.Fatal(err)
	}
	j := &unstructured.Unstructured{}
	if err := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(&j.Object); err != nil {
		t.Fatal(err)
	}
	j.SetNamespace(ns.Name)
	if err := c.Create(ctx, j); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, []string{"controller", "--kubeconfig", kubeconfig, "--namespace", ns.Name,
			"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--log-format", "text"}, strings.NewReader(""), &stdout, &stderr)
	}()
	for {
		got := &kubev1.Journey{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "shop"}, got); err != nil {
			t.Fatal(err)
		}
		if meta.IsStatusConditionTrue(got.Status.Conditions, kubev1.ConditionReady) {
			if got.Status.Decision != "PASS" || got.Status.Mode != "contract" {
				t.Errorf("shop: got %s in %s mode, want PASS in contract mode", got.Status.Decision, got.Status.Mode)
			}
			break
		}
		select {
		case code := <-done:
			t.Fatalf("emac controller exited %d before the journey was Ready; stderr:\n%s", code, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if ctx.Err() != nil {
			t.Fatalf("the journey never became Ready; stderr:\n%s", stderr.String())
		}
	}
	stop()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after its context ended, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("emac controller did not stop within a minute of its context ending")
	}
	if !strings.Contains(stderr.String(), "starting") {
		t.Errorf("stderr: got %q, want the start logged", stderr.String())
	}
}
