package host

import (
	"bytes"
	"embed"
	"fmt"
	"github.com/aurigraph/infra/internal/shell"
	"strconv"
	"strings"
	"text/template"
)

//go:embed scripts/*.tmpl
var scriptFS embed.FS

var scripts = template.Must(template.New("").Funcs(template.FuncMap{
	"sq":       shell.Quote,
	"dq":       strconv.Quote,
	"join":     strings.Join,
	"joinInts": joinInts,
}).ParseFS(scriptFS, "scripts/*.tmpl"))

func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, sep)
}

func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := scripts.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}

// heredocEnd closes the quoted here-documents that carry files in scripts.
const heredocEnd = "AURIGRAPH_EOF"

// fileContent normalises a file for a here-document: one final newline is
// added back by the script, and the content must not end the document early.
func fileContent(what, s string) (string, error) {
	s = strings.TrimRight(s, "\n")
	for _, line := range strings.Split(s, "\n") {
		if line == heredocEnd {
			return "", fmt.Errorf("%s contains the line %s", what, heredocEnd)
		}
	}
	return s, nil
}
