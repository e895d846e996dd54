package cluster

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"net"
	"regexp"
	"text/template"

	"github.com/aurigraph/infra/components/host"
)

//go:embed scripts/*.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("").Funcs(template.FuncMap{"sq": shell.Quote}).ParseFS(scriptFS, "scripts/*.tmpl"))

// SwarmValues render one host's swarm script.
type SwarmValues struct {
	Host    string
	What    string
	Address string // cluster address: advertised, data path
	Token   string // join only; the script carries it in a quoted here-document
	Manager string // join only: <first manager>:2377
	Nodes   []Node // labels only
}

// Node is a swarm member and the labels it gets.
type Node struct {
	ID    string
	Name  string
	Roles []string
}

// ListenAddr is the swarm management address.
func (v SwarmValues) ListenAddr() string {
	return net.JoinHostPort(v.Address, fmt.Sprint(host.SwarmManagementPort))
}

var tokenRE = regexp.MustCompile(`^SWMTKN-[A-Za-z0-9-]+$`)

// RenderInit renders `docker swarm init` on the first manager.
func RenderInit(v SwarmValues) (string, error) {
	v.What = "swarm init"
	return execute("init", v)
}

// RenderJoin renders the join of a manager or worker with its token.
func RenderJoin(v SwarmValues) (string, error) {
	if !tokenRE.MatchString(v.Token) {
		return "", fmt.Errorf("swarm join %s: malformed token", v.Host)
	}
	v.What = "swarm join"
	return execute("join", v)
}

// JoinRequest is the body of the Engine API's POST /swarm/join, the same
// request `docker swarm join` sends.
func (v SwarmValues) JoinRequest() (string, error) {
	b, err := json.Marshal(struct {
		ListenAddr    string
		AdvertiseAddr string
		DataPathAddr  string
		RemoteAddrs   []string
		JoinToken     string
	}{v.ListenAddr(), v.Address, v.Address, []string{v.Manager}, v.Token})
	return string(b), err
}

// RenderLabels renders the node labels, applied on the first manager.
func RenderLabels(v SwarmValues) (string, error) {
	v.What = "swarm node labels"
	return execute("labels", v)
}

func execute(name string, v SwarmValues) (string, error) {
	var b bytes.Buffer
	if err := scripts.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}

var nodeIDRE = regexp.MustCompile(`(?m)node-id=(\S*)$`)

// NodeID reads the node id a join or init script printed ("" if none).
func NodeID(stdout string) string {
	if m := nodeIDRE.FindStringSubmatch(stdout); m != nil {
		return m[1]
	}
	return ""
}
