package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"

	"github.com/aurigraph/infra/components/configfile"
	"github.com/aurigraph/infra/internal/shell"
)

// Draining for cmd/reboot: before a host reboots, the gateway's nginx.conf
// is replaced by the same configuration with that host's replicas marked
// `down` (Values.Down), through the path every configuration change takes
// (configfile.InstallScript: nginx -t in the gateway's own image on a
// candidate copy, then an atomic rename and a graceful reload); once the
// host's containers are back, the configuration `pulumi up` installed is put
// back the same way, byte for byte, so the next `pulumi up` sees no change.

// DrainStagedName is where the helper stages a configuration in the
// gateway host's staging directory.
const DrainStagedName = "reboot-drain-nginx.conf"

// ConfFile is nginx.conf's path under the gateway's directory on the host.
func ConfFile(dir string) string { return path.Join(dir, "conf", "nginx.conf") }

// ConfHash is the SHA-256 of a configuration's text, as sha256sum prints it.
func ConfHash(conf string) string {
	sum := sha256.Sum256([]byte(conf))
	return hex.EncodeToString(sum[:])
}

// LiveConfHashCommand prints the SHA-256 of the live nginx.conf (readable by
// root and the nginx user only, hence sudo for the SSH user), with the
// readiness gate's marks taken out: a replica the gate holds out of
// rotation does not make the live file differ from the deployed one.
func LiveConfHashCommand(dir string) string {
	return `SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"; $SUDO cat ` + shell.Quote(ConfFile(dir)) +
		` | sed ` + shell.Quote(unmarkSed) + ` | sha256sum | cut -d' ' -f1`
}

// InstallConfScript installs the configuration staged at staged (uploaded
// by the SSH user) as the live nginx.conf of the gateway in dir: validated
// by nginx -t in the running gateway's image first, then swapped and
// reloaded; nothing live changes when the check fails.
func InstallConfScript(dir, staged, candidate string) (string, error) {
	script, err := configfile.InstallScript([]configfile.Staged{{
		File: configfile.File{Path: ConfFile(dir), Mode: ConfMode, Owner: fmt.Sprintf("%d:%d", UID, UID)},
		From: staged,
	}}, &configfile.Check{Dir: dir, Command: ValidateCommand, Candidate: candidate}, ContainerName, ReloadCommand)
	if err != nil {
		return "", err
	}
	// The image the running gateway was created from: the one the
	// configuration must satisfy.
	return `IMAGE=$(docker inspect --format '{{.Config.Image}}' ` + ContainerName + `)` + "\n" + script, nil
}
