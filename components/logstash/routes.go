package logstash

import (
	"fmt"

	"github.com/aurigraph/infra/components/elasticsearch"
	"github.com/aurigraph/infra/components/host"
)

// Streams: every event lands in exactly one, the data stream (index)
// elasticsearch.IndexPrefix + stream.
const (
	StreamApp      = "app"      // the application's containers and /app/logs files
	StreamDatabase = "database" // PostgreSQL and Redis
	StreamNginx    = "nginx"    // the gateway: JSON access log and errors
	StreamVault    = "vault"    // Vault's server log and its audit device
	StreamSystem   = "system"   // every host's journal
	// StreamPlatform takes every other service: the logging and monitoring
	// stack, the exporters, and a container with no service label.
	StreamPlatform = "platform"
)

// SystemService is the service.name given to journal events, which carry
// none (host.DatasetJournal).
const SystemService = "system"

// Services names the service kinds the pipeline treats specially: their
// values are the service.name the hosts send (the containers' service
// label, or a log file's service).
type Services struct {
	Nginx, Postgres, Redis, Vault, App string
}

// Route sends the events of one service to a stream.
type Route struct {
	Service string
	Stream  string
}

// Routes is the one routing table: the pipeline's conditionals are rendered
// from it and the tests route the events they send through it.
func (s Services) Routes() []Route {
	return []Route{
		{Service: s.App, Stream: StreamApp},
		{Service: s.Postgres, Stream: StreamDatabase},
		{Service: s.Redis, Stream: StreamDatabase},
		{Service: s.Nginx, Stream: StreamNginx},
		{Service: s.Vault, Stream: StreamVault},
		{Service: SystemService, Stream: StreamSystem},
	}
}

// Streams are every stream the pipeline writes, table order, then the default.
func (s Services) Streams() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range append(s.Routes(), Route{Stream: StreamPlatform}) {
		if !seen[r.Stream] {
			seen[r.Stream] = true
			out = append(out, r.Stream)
		}
	}
	return out
}

// Index is the index (data stream) a stream is written to.
func Index(stream string) string { return elasticsearch.IndexPrefix + stream }

// StreamOf is the stream the pipeline's routing gives service.
func (s Services) StreamOf(service string) string {
	for _, r := range s.Routes() {
		if r.Service == service {
			return r.Stream
		}
	}
	return StreamPlatform
}

// ServiceOf is the service.name the pipeline settles on for an event as the
// json_lines codec decodes it: its own; else SystemService for a host's
// journal; else none ("") for another host event (a container without a
// service label); else the application's (events of the application's own
// JSON and GELF inputs, which carry no event.dataset).
func (s Services) ServiceOf(event map[string]any) string {
	if name, ok := field(event, "service", "name").(string); ok {
		return name
	}
	if name, ok := event["service"].(string); ok {
		return name
	}
	switch dataset := field(event, "event", "dataset"); {
	case dataset == host.DatasetJournal:
		return SystemService
	case dataset != nil:
		return ""
	}
	return s.App
}

// IndexOf is the index the pipeline writes a decoded event to.
func (s Services) IndexOf(event map[string]any) string {
	return Index(s.StreamOf(s.ServiceOf(event)))
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func (s Services) validate() error {
	seen := map[string]bool{}
	for _, r := range s.Routes() {
		if !plainRE.MatchString(r.Service) || seen[r.Service] {
			return fmt.Errorf("pipeline: service %q of stream %s is empty, repeated or needs quoting", r.Service, r.Stream)
		}
		seen[r.Service] = true
	}
	return nil
}
