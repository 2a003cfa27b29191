package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/emac-dev/emac/api/v1alpha1"
)

// BenchmarkGate measures the server's cost of a gate answer over loopback
// HTTP with keep-alive, requests in parallel: the backend answers a fixed
// result at once, as the Governor does from its cache.
func BenchmarkGate(b *testing.B) {
	ts := httptest.NewServer(New(newFake(checkout(v1alpha1.DecisionFail, evaluatedAt)), Options{Token: "bench"}).Handler())
	defer ts.Close()
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := ts.URL + "/v1/journeys/checkout/gate"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bearer bench")
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status: got %d, want 200", resp.StatusCode)
				return
			}
		}
	})
}
