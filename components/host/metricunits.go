package host

import "strings"

// metricsUnits is a script that writes node exporter textfile metrics (into
// TextfileDir), run by a oneshot service as root and repeated by a timer.
// The four such scripts of the host preparation share this one shape.
type metricsUnits struct {
	Measures  string   // what the script writes, for the units' descriptions
	Script    string   // the script's path (ExecStart)
	After     string   // a unit the script reads from, "" for none
	Env       []string // NAME=value lines besides TEXTFILE_DIR
	Every     string   // OnUnitActiveSec
	BootDelay string   // OnBootSec: the first run after a boot
}

// service runs the script once, sandboxed: it writes only TextfileDir (and
// reads what it measures).
func (u metricsUnits) service() string {
	var b strings.Builder
	b.WriteString("[Unit]\nDescription=Aurigraph " + u.Measures + " for node exporter (textfile collector)\n")
	if u.After != "" {
		b.WriteString("After=" + u.After + "\n")
	}
	b.WriteString("\n[Service]\nType=oneshot\n")
	for _, e := range append(u.Env, "TEXTFILE_DIR="+TextfileDir) {
		b.WriteString("Environment=" + e + "\n")
	}
	b.WriteString("ExecStart=" + u.Script + "\nNice=10\nNoNewPrivileges=yes\nProtectSystem=full\nProtectHome=yes\nPrivateTmp=yes\n")
	return b.String()
}

// timer repeats the service; AccuracySec keeps systemd from batching the
// runs to a minute.
func (u metricsUnits) timer() string {
	return "[Unit]\nDescription=Refresh the Aurigraph " + u.Measures + " every " + u.Every + "\n\n" +
		"[Timer]\nOnBootSec=" + u.BootDelay + "\nOnUnitActiveSec=" + u.Every + "\nAccuracySec=1s\n\n" +
		"[Install]\nWantedBy=timers.target\n"
}
