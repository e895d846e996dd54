package drift

import (
	"fmt"
	"io"
	"strings"
)

// Run is what one command produced: its digest (nil when it printed none)
// and its exit status.
type Run struct {
	Digest *Digest
	Exit   int
	// ReadError says why there is no digest.
	ReadError error
}

// Report is the nightly result of one stack.
type Report struct {
	Stack            string
	Refresh, Preview Run
}

// Clean reports whether nothing drifted and both commands succeeded.
func (r Report) Clean() bool {
	for _, run := range []struct {
		run  Run
		kind Kind
	}{{r.Refresh, Refresh}, {r.Preview, Preview}} {
		if run.run.Digest == nil || run.run.Exit != 0 || len(drifted(run.run.Digest, run.kind)) > 0 || len(Errors(run.run.Digest)) > 0 {
			return false
		}
	}
	return true
}

// drifted are the resources that differ in what the program declares.
func drifted(d *Digest, kind Kind) []Resource {
	var out []Resource
	for _, r := range Differences(d, kind) {
		if r.Drifted() {
			out = append(out, r)
		}
	}
	return out
}

// verbs say what each op means in each command.
var verbs = map[Kind]map[string]string{
	Refresh: {
		"update": "changed outside Pulumi",
		"delete": "gone (deleted outside Pulumi)",
	},
	Preview: {
		"create":                 "would be created",
		"update":                 "would be updated",
		"replace":                "would be replaced",
		"delete":                 "would be deleted",
		"import":                 "would be imported",
		"import-replacement":     "would be imported and replaced",
		"read-replacement":       "would be read again",
		"remove-pending-replace": "pending replacement would be removed",
	},
}

// WriteMarkdown writes the summary: per command, one table row per
// differing property (resource, property, old → new).
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if r.Clean() {
		fmt.Fprintf(&b, "## No drift in stack `%s`\n\nThe resources read back as recorded, and the program matches the state.\n", r.Stack)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "## Drift in stack `%s`\n\n", r.Stack)
	section(&b, "What changed outside Pulumi", "`pulumi refresh --preview-only`: the state recorded at the last `pulumi up` (was) against what the providers read back now (now).", "pulumi refresh", r.Refresh, Refresh)
	section(&b, "What `pulumi up` would change", "`pulumi preview --expect-no-changes` with the policy pack: the state (was) against the program and its config (now).", "pulumi preview", r.Preview, Preview)
	b.WriteString("How to read this and what to do: docs/drift.md.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func section(b *strings.Builder, title, what, cmd string, run Run, kind Kind) {
	fmt.Fprintf(b, "### %s\n\n%s\n\n", title, what)
	if run.Digest == nil {
		fmt.Fprintf(b, "**%s printed no result** (exit %d): %v. Its log is in the workflow artifact.\n\n", cmd, run.Exit, run.ReadError)
		return
	}
	all := Differences(run.Digest, kind)
	diffs := drifted(run.Digest, kind)
	errs := Errors(run.Digest)
	if len(diffs) == 0 {
		b.WriteString("Nothing differs.\n\n")
	} else {
		fmt.Fprintf(b, "%d resource(s) differ.\n\n", len(diffs))
		b.WriteString("| Resource | Type | Change | Property | Was | Now |\n|---|---|---|---|---|---|\n")
		for _, d := range diffs {
			verb := verbs[kind][d.Op]
			if verb == "" {
				verb = d.Op
			}
			if len(d.Replace) > 0 {
				verb += " (replaced for " + strings.Join(d.Replace, ", ") + ")"
			}
			if len(d.Properties) == 0 {
				fmt.Fprintf(b, "| %s | %s | %s | | | |\n", code(d.Name), code(d.Type), cell(verb))
				continue
			}
			for i, p := range d.Properties {
				name, typ, v := code(d.Name), code(d.Type), cell(verb)
				if i > 0 {
					name, typ, v = "", "", ""
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", name, typ, v, code(p.Path), value(p.Old), value(p.New))
			}
		}
		b.WriteString("\n")
	}
	var computed []string
	for _, r := range all {
		if len(r.Computed) > 0 {
			computed = append(computed, fmt.Sprintf("%s (%s)", code(r.Name), strings.Join(r.Computed, ", ")))
		}
	}
	if len(computed) > 0 {
		fmt.Fprintf(b, "Not drift: values the providers compute and the program does not set changed on %s.\n\n", strings.Join(computed, "; "))
	}
	if len(errs) > 0 {
		b.WriteString("Errors:\n\n")
		for _, e := range errs {
			msg := strings.TrimSpace(e.Message)
			if e.URN != "" {
				_, name := splitURN(e.URN)
				msg = name + ": " + msg
			}
			fmt.Fprintf(b, "- %s\n", cell(msg))
		}
		b.WriteString("\n")
	}
	if run.Exit != 0 && len(diffs) == 0 && len(errs) == 0 {
		fmt.Fprintf(b, "**%s failed (exit %d)** without a difference or an error in its result: a policy violation or an engine error; see its log in the workflow artifact.\n\n", cmd, run.Exit)
	}
}

// cell makes text safe inside a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// value is a rendered value's cell; "" is a value that is absent.
func value(s string) string {
	if s == "" {
		return "(absent)"
	}
	return code(s)
}

// code is a table cell in code style ("" stays empty).
func code(s string) string {
	if s == "" {
		return ""
	}
	s = cell(s)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}
