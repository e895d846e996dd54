// Package shell quotes values for the POSIX shell scripts the program
// renders: every value that reaches a shell goes through Quote.
package shell

import "strings"

// Quote makes s one single-quoted word for a POSIX shell; each single
// quote inside s becomes a backslash-escaped quote between two quoted parts.
// Inside single quotes nothing is special, so `$( )`, backticks, `;`,
// newlines and % arrive as the bytes they are.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
