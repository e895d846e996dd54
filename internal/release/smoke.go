package release

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Smoke tests a slot before it gets any traffic.
type Smoke interface {
	Test(ctx context.Context, slot string) error
}

// HTTPSmoke sends real requests through the gateway to one slot, whatever
// its weight: the slot's health, its readiness and one request of the
// application's own, each on the gateway's slot route.
type HTTPSmoke struct {
	// URL is the gateway's address of path on slot only: cmd/release makes
	// it from the API's public name and the gateway's slot route
	// (components/gateway SlotPath).
	URL                                func(slot, path string) string
	HealthPath, ReadyPath, RequestPath string
	// User and Password are the operators' gateway credentials (the
	// monitoring UIs' htpasswd), which the slot route asks for. They go
	// over TLS only: URL must be https.
	User, Password string
	Client         *http.Client
}

// Test GETs each path on the slot; every one must answer 2xx.
func (h *HTTPSmoke) Test(ctx context.Context, slot string) error {
	if h.URL == nil {
		return fmt.Errorf("smoke test: no gateway URL")
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, c := range []struct{ what, path string }{{"health", h.HealthPath}, {"readiness", h.ReadyPath}, {"request", h.RequestPath}} {
		if c.path == "" {
			return fmt.Errorf("smoke test: no %s path", c.what)
		}
		u := h.URL(slot, c.path)
		if h.User != "" && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("smoke test %s: %s is not https: the gateway's password would travel in clear", c.what, u)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("smoke test %s: %w", c.what, err)
		}
		if h.User != "" {
			req.SetBasicAuth(h.User, h.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("smoke test %s: %w", c.what, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("smoke test %s of the %s slot: %s answered %s: %s", c.what, slot, u, resp.Status, strings.TrimSpace(string(body)))
		}
	}
	return nil
}
