// Command verify is the post-deployment verification of a stack, run by the
// deploy and release workflows after every deployment (and by hand against
// any stack): through the gateway, the API's health, one request on each
// slot's own route, and every monitoring UI given reachable with the
// monitoring credentials and refused without them. Every check is retried
// until it passes or -wait runs out; all are reported, then it exits 1 if
// any failed (the workflow then rolls back), 2 on a usage error.
//
//	VERIFY_MONITORING_USER=ops VERIFY_MONITORING_PASSWORD=… go run ./cmd/verify \
//	    -base-url https://api.staging.example -slots blue,green \
//	    -slot-url 'https://api.staging.example/_slot/{slot}/api/v11/status' \
//	    -ui grafana=https://grafana.staging.example/api/health -ui kibana=https://kibana.staging.example/
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// The monitoring credentials come from the environment, never a flag (which
// would show them in the process list and the workflow's log).
const (
	userEnv     = "VERIFY_MONITORING_USER"
	passwordEnv = "VERIFY_MONITORING_PASSWORD"
)

// uiFlags collects -ui name=URL, in order.
type uiFlags []UI

func (u *uiFlags) String() string { return fmt.Sprint(*u) }

func (u *uiFlags) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("%q: want name=URL, e.g. grafana=https://grafana.example/api/health", v)
	}
	*u = append(*u, UI{Name: name, URL: url})
	return nil
}

func main() {
	var uis uiFlags
	baseURL := flag.String("base-url", "", "the API's public base URL, through the gateway (https://api.example)")
	healthPaths := flag.String("health-paths", "/healthz,/q/health/ready", "paths under -base-url that must answer 2xx: the gateway's own health, then the application's readiness through it")
	slots := flag.String("slots", "", "slots that run replicas (comma-separated, e.g. blue,green): each gets a request on its own route")
	slotURL := flag.String("slot-url", "", "a request through the gateway's route to one slot ({slot} is replaced by the slot's name), sent with the monitoring credentials: the route is for operators")
	flag.Var(&uis, "ui", "a monitoring UI behind the gateway's authentication, name=URL (repeatable): 2xx/3xx with the credentials of $"+userEnv+"/$"+passwordEnv+", 401 without")
	caFile := flag.String("ca-file", "", "PEM certificates to trust besides the system's (a stack whose edge certificate is from its own CA)")
	wait := flag.Duration("wait", 2*time.Minute, "how long each check is retried before it fails")
	interval := flag.Duration("interval", 5*time.Second, "time between tries of a check")
	flag.Parse()
	if *baseURL == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: verify -base-url URL [-slots blue,green -slot-url URL] [-ui name=URL]... (credentials in $"+userEnv+", $"+passwordEnv+")")
		os.Exit(2)
	}
	client, err := newClient(*caFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify: %v\n", err)
		os.Exit(2)
	}
	p := Plan{
		BaseURL:     *baseURL,
		HealthPaths: split(*healthPaths),
		Slots:       split(*slots),
		SlotURL:     *slotURL,
		UIs:         uis,
		User:        os.Getenv(userEnv),
		Password:    os.Getenv(passwordEnv),
	}
	checks, err := p.Checks()
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := Runner{Client: client, User: p.User, Password: p.Password, Wait: *wait, Interval: *interval, Out: os.Stdout}
	if failed := r.Run(ctx, checks); failed > 0 {
		fmt.Fprintf(os.Stderr, "verify: %d of %d checks failed\n", failed, len(checks))
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// newClient trusts the system's CAs plus caFile's, and does not follow
// redirects on its own (a check decides what a redirect means).
func newClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
