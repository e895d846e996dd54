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

// HTTPSmoke checks a slot's health and readiness and sends a real request
// through the gateway's route to that slot. Each URL may hold {slot}, the
// slot's name.
type HTTPSmoke struct {
	HealthURL, ReadyURL, RequestURL string
	Client                          *http.Client
}

// Test GETs each URL; every one must answer 2xx.
func (h *HTTPSmoke) Test(ctx context.Context, slot string) error {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, c := range []struct{ what, url string }{{"health", h.HealthURL}, {"readiness", h.ReadyURL}, {"request through the gateway", h.RequestURL}} {
		if c.url == "" {
			return fmt.Errorf("smoke test: no %s URL", c.what)
		}
		u := strings.ReplaceAll(c.url, "{slot}", slot)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("smoke test %s: %w", c.what, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("smoke test %s: %w", c.what, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("smoke test %s: %s answered %s: %s", c.what, u, resp.Status, strings.TrimSpace(string(body)))
		}
	}
	return nil
}
