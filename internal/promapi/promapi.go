// Package promapi is emac's client of the Prometheus HTTP API: one place
// that checks a server's address and turns a query's failures into
// messages that name the server and say what went wrong (a refused
// query, no answer in time, no connection), for every reader of live
// data (latency histograms, observed availability).
package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Client queries one Prometheus server.
type Client struct {
	url     string
	api     v1.API
	timeout time.Duration
}

// New returns a client of the server at address (its base URL, e.g.
// http://prometheus:9090), each query bounded by timeout; transport nil
// is client_golang's default, which honours the proxy environment.
func New(address string, transport http.RoundTripper, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus address %q: want an http(s) URL such as http://prometheus:9090", address)
	}
	c, err := api.NewClient(api.Config{Address: address, RoundTripper: transport})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", address, err)
	}
	return &Client{url: address, api: v1.NewAPI(c), timeout: timeout}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.url }

// Vector runs an instant query at the time at, which must answer an
// instant vector. Errors begin with from (what was asked of whom).
func (c *Client) Vector(ctx context.Context, q string, at time.Time, from string) (model.Vector, v1.Warnings, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, warns, err := c.api.Query(ctx, q, at, v1.WithTimeout(c.timeout))
	if err != nil {
		return nil, nil, c.queryErr(ctx, err, from)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, nil, fmt.Errorf("%s: the answer is a %s, not an instant vector", from, val.Type())
	}
	return vec, warns, nil
}

// Matrix runs a range query from start to end at step, which must answer
// a range vector. Errors begin with from.
func (c *Client) Matrix(ctx context.Context, q string, start, end time.Time, step time.Duration, from string) (model.Matrix, v1.Warnings, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, warns, err := c.api.QueryRange(ctx, q, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(c.timeout))
	if err != nil {
		return nil, nil, c.queryErr(ctx, err, from)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, nil, fmt.Errorf("%s: the answer is a %s, not a range vector", from, val.Type())
	}
	return m, warns, nil
}

// queryErr says what went wrong with a query, naming from.
func (c *Client) queryErr(ctx context.Context, err error, from string) error {
	var pe *v1.Error
	var ue *url.Error
	switch {
	case errors.As(err, &pe):
		msg := fmt.Sprintf("%s: %s: %s", from, pe.Type, pe.Msg)
		if pe.Detail != "" && pe.Detail != pe.Msg {
			msg += " (" + pe.Detail + ")"
		}
		return errors.New(msg)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return fmt.Errorf("%s: no answer within %v", from, c.timeout)
	case errors.As(err, &ue):
		// the URL repeats the query: the cause is what matters
		return fmt.Errorf("%s: %w", from, ue.Err)
	}
	return fmt.Errorf("%s: %w", from, err)
}
