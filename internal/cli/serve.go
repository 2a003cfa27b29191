package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var g governFlags
	var opts server.Options
	var ttl time.Duration
	var tokenFile, logFormat string
	cmd := &cobra.Command{
		Use:   "serve --prometheus URL [flags]",
		Short: "Serve gates, Flagger webhooks, guarded actions and the live model over HTTP",
		Long: `serve runs emac's HTTP server for the cluster, deciding in observed mode as
emac gate does, with evaluations cached for --ttl:

  GET  /v1/journeys                          the journeys served
  GET  /v1/journeys/{name}/gate              the gate's JSON (Argo Rollouts' web
                                             provider: jsonPath {$.decision})
  POST /v1/journeys/{name}/flagger           a Flagger webhook: 200 on PASS only
  POST /v1/journeys/{name}/actions/{action}  a guarded action: 200 allowed, 403 denied
  GET  /metrics                              the live model as Prometheus metrics
  GET  /healthz, /readyz                     probes

It stops gracefully on SIGINT or SIGTERM, draining requests in flight.`,
		Example: `  emac serve --prometheus http://prometheus.monitoring:9090 --spec /etc/emac/specs \
    --evidence /etc/emac/evidence/delta.json --token-file /var/run/secrets/emac/token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return &exitError{code: ExitGateError, msg: "--token-file: " + err.Error()}
				}
				opts.Token = string(bytes.TrimSpace(b))
				if opts.Token == "" {
					return &exitError{code: ExitGateError, msg: "--token-file " + tokenFile + " is empty"}
				}
			}
			var h slog.Handler = slog.NewJSONHandler(a.stderr, nil)
			if logFormat == "text" {
				h = slog.NewTextHandler(a.stderr, nil)
			} else if logFormat != "json" {
				return &exitError{code: ExitGateError, msg: "--log-format: use json or text"}
			}
			opts.Logger = slog.New(h)
			gov, closer, err := a.governor(cmd.Context(), &g, ttl, true)
			if err != nil {
				return err
			}
			defer closer()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts.Logger.Info("governing", "journeys", gov.Journeys(), "prometheus", g.prometheus, "ttl", ttl.String())
			if err := server.New(gov, opts).ListenAndServe(ctx); err != nil && !errors.Is(err, ctx.Err()) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	g.register(f, true)
	f.StringVar(&opts.Addr, "addr", server.DefaultAddr, "the address to listen on")
	f.DurationVar(&ttl, "ttl", 15*time.Second, "how long an evaluation is reused")
	f.StringVar(&tokenFile, "token-file", "", "a file holding the bearer token /v1 and /metrics require (default: no auth)")
	f.BoolVar(&opts.OpenFlagger, "open-flagger", false, "leave the Flagger webhook open when a token is set (Flagger's webhooks send no headers)")
	f.DurationVar(&opts.RequestTimeout, "request-timeout", server.DefaultRequestTimeout, "the longest a request may take")
	f.DurationVar(&opts.Refresh, "refresh", server.DefaultRefresh, "how often every journey is re-evaluated for /metrics (negative: never)")
	f.StringVar(&logFormat, "log-format", "json", "structured log format: json or text")
	return cmd
}
