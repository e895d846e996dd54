package release

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/app"
	"github.com/aurigraph/infra/components/prometheus"
)

// Analysis judges a slot's health from its metrics: nil when every check
// passes, Failed when one fails, another error when it could not tell.
type Analysis interface {
	Analyse(ctx context.Context, slot string) error
}

// Failed is a failed analysis: which checks failed and with what value.
type Failed struct{ Reasons []string }

func (f *Failed) Error() string { return "analysis failed: " + strings.Join(f.Reasons, "; ") }

// Check is one PromQL query whose result series, for the analysed slot,
// each mean a failure.
type Check struct {
	Name  string
	Query string
}

// The stack's critical rules the analysis shares its queries with.
const (
	ErrorRateRule = "HighErrorRateCritical"  // error rate > 5 %
	LatencyRule   = "HighLatencyP99Critical" // p99 > 1 s
)

// ruleWindow is the rate window the rules are written with.
const ruleWindow = "[5m]"

// Checks are the SPEC's critical thresholds as the stack's alert rules
// evaluate them (their expr text, read from components/prometheus's
// rendered rules, thresholds included), with the rate window replaced by
// window (Prometheus syntax, "1m"; empty: the rules' 5m), and readiness
// failures: an application target of the slot that does not answer.
func Checks(window string) ([]Check, error) {
	rules, err := prometheus.RenderRules(prometheus.RulesValues{PoolMaxSize: 1}) // the pool size enters no check used here
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(rules), &doc); err != nil {
		return nil, err
	}
	exprs := map[string]string{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = strings.TrimSpace(r.Expr)
		}
	}
	var out []Check
	for _, c := range []struct{ name, rule string }{{"error rate > 5%", ErrorRateRule}, {"p99 latency > 1s", LatencyRule}} {
		e, ok := exprs[c.rule]
		if !ok || !strings.Contains(e, ruleWindow) || !strings.Contains(e, "by (slot") {
			return nil, fmt.Errorf("release analysis: rule %s is gone or no longer per slot over %s: update internal/release", c.rule, ruleWindow)
		}
		if window != "" {
			e = strings.ReplaceAll(e, ruleWindow, "["+window+"]")
		}
		out = append(out, Check{Name: c.name, Query: e})
	}
	out = append(out,
		// The gateway's readiness gate probes every replica as the
		// application's readiness probe does; as many failures in a row
		// as make the probe give up make the replica unready.
		Check{Name: "readiness failures", Query: fmt.Sprintf(`max by (slot, replica) (%s) >= %d`, app.ReadinessFailuresMetric, app.Readiness.Retries)},
		Check{Name: "replica down (not scraped)", Query: fmt.Sprintf(`up{job=%q} == 0`, prometheus.AppJob)})
	return out, nil
}

// PrometheusAnalysis runs Checks against Prometheus's HTTP API.
type PrometheusAnalysis struct {
	URL string // http://prometheus:9090, or the gateway's monitoring name
	// User and Password, when User is set, authenticate to the gateway
	// (aurigraph:monitoringHtpasswd) with basic auth.
	User, Password string
	Checks         []Check
	Client         *http.Client
}

type queryResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// Analyse runs every check; a result series labelled with slot fails it.
func (p *PrometheusAnalysis) Analyse(ctx context.Context, slot string) error {
	var reasons []string
	for _, c := range p.Checks {
		res, err := p.query(ctx, c.Query)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		for _, r := range res.Data.Result {
			if r.Metric["slot"] != slot {
				continue
			}
			what := c.Name + " on the " + slot + " slot"
			if rep := r.Metric["replica"]; rep != "" {
				what += " on " + rep
			} else if inst := r.Metric["instance"]; inst != "" {
				what += " on " + inst
			}
			reasons = append(reasons, fmt.Sprintf("%s (value %v)", what, r.Value[1]))
		}
	}
	if len(reasons) > 0 {
		return &Failed{Reasons: reasons}
	}
	return nil
}

func (p *PrometheusAnalysis) query(ctx context.Context, q string) (*queryResponse, error) {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.URL, "/")+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r queryResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("prometheus answered %s: %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s", r.Error)
	}
	return &r, nil
}
