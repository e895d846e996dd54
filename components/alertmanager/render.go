package alertmanager

import (
	_ "embed"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// Labels the routing and the inhibitions key on: the alert rules
// (components/prometheus/alerts.yml.tmpl) set them.
const (
	SeverityLabel  = "severity"
	ConditionLabel = "condition"
	HostLabel      = "host"
	// HostDownAlert silences every other alert of its host while it fires.
	HostDownAlert = "HostDown"
)

// Receiver names: one per severity, so a notification says how it was routed.
const (
	CriticalReceiver = "critical"
	WarningReceiver  = "warning"
)

// GroupBy are the labels one notification groups alerts by: one rule, on
// one host or release slot.
var GroupBy = []string{"alertname", HostLabel, "slot"}

// Timing is how long Alertmanager waits and repeats, as Alertmanager
// durations (30s, 5m, 4h). Empty fields take DefaultTiming's.
type Timing struct {
	GroupWait              string
	GroupInterval          string
	RepeatInterval         string
	CriticalRepeatInterval string
}

// DefaultTiming: the Prometheus operator's and dockprom's defaults (30s to
// gather a group, 5m between updates, a reminder every 4h), with criticals
// reminded every hour.
var DefaultTiming = Timing{GroupWait: "30s", GroupInterval: "5m", RepeatInterval: "4h", CriticalRepeatInterval: "1h"}

// Webhook posts Alertmanager's JSON to a URL (which often carries a token).
type Webhook struct{ URL string }

// Email sends through an SMTP relay with STARTTLS.
type Email struct {
	To        []string
	From      string
	Smarthost string // host:port
	Username  string // empty: the relay needs no authentication
	Password  string
}

// PagerDuty pages through an Events API v2 integration.
type PagerDuty struct{ RoutingKey string }

// Opsgenie pages through the Opsgenie API.
type Opsgenie struct {
	APIKey string
	APIURL string // empty: Alertmanager's default (US); https://api.eu.opsgenie.com/ for the EU
}

// ConfigValues is everything alertmanager.yml depends on. Credentials are
// plain here: the component renders inside a secret Output and installs the
// result as a secret file. A nil receiver is not configured.
type ConfigValues struct {
	Timing    Timing
	Webhook   *Webhook
	Email     *Email
	PagerDuty *PagerDuty
	Opsgenie  *Opsgenie
}

var (
	//go:embed alertmanager.yml.tmpl
	configTemplate string

	configTmpl = template.Must(template.New("alertmanager.yml").Option("missingkey=error").Funcs(template.FuncMap{
		// q quotes a value for YAML (a JSON-style double-quoted scalar).
		"q": strconv.Quote,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
	}).Parse(configTemplate))

	// durationRE is Alertmanager's (Prometheus's) duration syntax.
	durationRE = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
)

// ValidDuration reports whether s is an Alertmanager duration (30s, 5m, 4h, 1h30m).
func ValidDuration(s string) bool { return durationRE.MatchString(s) }

// WithDefaults fills the empty timing fields from DefaultTiming.
func (t Timing) WithDefaults() Timing {
	for _, f := range []struct {
		v *string
		d string
	}{
		{&t.GroupWait, DefaultTiming.GroupWait}, {&t.GroupInterval, DefaultTiming.GroupInterval},
		{&t.RepeatInterval, DefaultTiming.RepeatInterval}, {&t.CriticalRepeatInterval, DefaultTiming.CriticalRepeatInterval},
	} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	return t
}

// Problems lists what is wrong with the values, as field: problem, every
// one at once (the stack's validation names its own keys; this guards the
// renderer's other callers).
func (t Timing) Problems() []string {
	var out []string
	for _, f := range []struct{ name, v string }{
		{"groupWait", t.GroupWait}, {"groupInterval", t.GroupInterval},
		{"repeatInterval", t.RepeatInterval}, {"criticalRepeatInterval", t.CriticalRepeatInterval},
	} {
		if f.v != "" && !durationRE.MatchString(f.v) {
			out = append(out, fmt.Sprintf("%s %q is not a duration such as 30s, 5m or 4h", f.name, f.v))
		}
	}
	return out
}

// RenderConfig renders alertmanager.yml.
func RenderConfig(v ConfigValues) (string, error) {
	v.Timing = v.Timing.WithDefaults()
	problems := v.Timing.Problems()
	// The webhook URL is a secret and only known inside the secret Output:
	// it is not checked here (an error would stop a preview that runs on
	// placeholders) but by amtool on the host before the file replaces the
	// live one (ValidateCommand).
	if w := v.Webhook; w != nil && w.URL == "" {
		problems = append(problems, "the webhook needs a URL")
	}
	if e := v.Email; e != nil {
		if len(e.To) == 0 {
			problems = append(problems, "e-mail needs at least one recipient")
		}
		for _, a := range append(append([]string{}, e.To...), e.From) {
			if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "<>\n") {
				problems = append(problems, fmt.Sprintf("e-mail address %q is not a plain address", a))
			}
		}
		if _, port, err := net.SplitHostPort(e.Smarthost); err != nil || port == "" {
			problems = append(problems, fmt.Sprintf("smarthost %q is not host:port", e.Smarthost))
		}
		if e.Username != "" && e.Password == "" {
			problems = append(problems, "e-mail has a user but no password")
		}
	}
	if p := v.PagerDuty; p != nil && p.RoutingKey == "" {
		problems = append(problems, "PagerDuty needs a routing key")
	}
	if o := v.Opsgenie; o != nil {
		if o.APIKey == "" {
			problems = append(problems, "Opsgenie needs an API key")
		}
		if o.APIURL != "" {
			if u, err := url.Parse(o.APIURL); err != nil || u.Scheme != "https" || u.Host == "" {
				problems = append(problems, fmt.Sprintf("Opsgenie API URL %q is not an https URL", o.APIURL))
			}
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("alertmanager config: %s", strings.Join(problems, "; "))
	}
	data := struct {
		ConfigValues
		Timing
		GroupBy                                                 []string
		SeverityLabel, ConditionLabel, HostLabel, HostDownAlert string
		CriticalReceiver, WarningReceiver                       string
	}{v, v.Timing, GroupBy, SeverityLabel, ConditionLabel, HostLabel, HostDownAlert, CriticalReceiver, WarningReceiver}
	var b strings.Builder
	if err := configTmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
