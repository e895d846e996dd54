package prometheus

// RunbookBase is where the runbook pages live: docs/runbooks/ of this
// repository, one <AlertName>.md per alert. Alertmanager templates and the
// rules link there through RunbookURL only.
const RunbookBase = "https://github.com/aurigraph/infra/blob/main/docs/runbooks/"

// RunbookDir is the runbook pages' directory relative to the repository
// root: the tests check that every alert has its page there.
const RunbookDir = "docs/runbooks"

// RunbookURL is the runbook page of an alert, its runbook_url annotation.
func RunbookURL(alert string) string { return RunbookBase + alert + ".md" }
