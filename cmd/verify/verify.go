package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// UI is a monitoring UI behind the gateway's authentication.
type UI struct{ Name, URL string }

// Plan is what to verify.
type Plan struct {
	BaseURL     string
	HealthPaths []string
	Slots       []string
	SlotURL     string // holds {slot}
	UIs         []UI
	// User and Password are the gateway's monitoring credentials.
	User, Password string
}

// Check is one request and what its answer must be.
type Check struct {
	Name string
	URL  string
	// Auth sends the monitoring credentials.
	Auth bool
	// Want judges the status; nil: 2xx.
	Want func(status int) error
}

// Checks lists the plan's checks; every problem with the plan at once.
func (p Plan) Checks() ([]Check, error) {
	var problems []string
	if len(p.Slots) > 0 && !strings.Contains(p.SlotURL, "{slot}") {
		problems = append(problems, "-slot-url must hold {slot} (the slot's name) when -slots is given")
	}
	if len(p.Slots) == 0 && p.SlotURL != "" {
		problems = append(problems, "-slot-url needs -slots: the slots that run replicas")
	}
	if len(p.UIs) > 0 && (p.User == "" || p.Password == "") {
		problems = append(problems, "-ui needs the monitoring credentials in $"+userEnv+" and $"+passwordEnv)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	base := strings.TrimSuffix(p.BaseURL, "/")
	var out []Check
	for _, h := range p.HealthPaths {
		out = append(out, Check{Name: "health " + h, URL: base + "/" + strings.TrimPrefix(h, "/")})
	}
	for _, s := range p.Slots {
		// The gateway's slot route is for operators: the monitoring credentials.
		out = append(out, Check{Name: "request through the gateway to the " + s + " slot", URL: strings.ReplaceAll(p.SlotURL, "{slot}", s), Auth: true})
	}
	for _, ui := range p.UIs {
		// Refused without credentials: the UI is not open to the world.
		out = append(out, Check{Name: ui.Name + " refuses a request without credentials", URL: ui.URL, Want: func(status int) error {
			if status != http.StatusUnauthorized {
				return fmt.Errorf("answered %d without credentials, want 401 from the gateway's authentication", status)
			}
			return nil
		}})
		// A redirect (to the UI's own login or home page) is reachable too.
		out = append(out, Check{Name: ui.Name + " reachable with the monitoring credentials", URL: ui.URL, Auth: true, Want: func(status int) error {
			if status/100 != 2 && status/100 != 3 {
				return fmt.Errorf("answered %d with the monitoring credentials, want 2xx or 3xx", status)
			}
			return nil
		}})
	}
	return out, nil
}

// Runner runs checks, retrying each until it passes or Wait runs out.
type Runner struct {
	Client         *http.Client
	User, Password string
	Wait, Interval time.Duration
	Out            io.Writer
}

// Run reports every check and returns how many failed.
func (r Runner) Run(ctx context.Context, checks []Check) int {
	failed := 0
	for _, c := range checks {
		err := r.retry(ctx, c)
		if err != nil {
			failed++
			fmt.Fprintf(r.Out, "FAIL %s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(r.Out, "ok   %s\n", c.Name)
	}
	return failed
}

func (r Runner) retry(ctx context.Context, c Check) error {
	end := time.Now().Add(r.Wait)
	for {
		err := r.once(ctx, c)
		if err == nil || time.Now().Add(r.Interval).After(end) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(r.Interval):
		}
	}
}

func (r Runner) once(ctx context.Context, c Check) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	if c.Auth && r.User != "" {
		req.SetBasicAuth(r.User, r.Password)
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	want := c.Want
	if want == nil {
		want = func(status int) error {
			if status/100 != 2 {
				// One line: an error page's markup, its words only.
				return fmt.Errorf("answered %d: %s", status, strings.Join(strings.Fields(string(body)), " "))
			}
			return nil
		}
	}
	if err := want(resp.StatusCode); err != nil {
		return fmt.Errorf("%s %w", c.URL, err)
	}
	return nil
}
