//go:build !linux

package deploy_test

import "testing"

// The deployment tests need Linux: nginx and systemd as Debian packages
// them, and an ELF binary to check for static linking.
func TestDeploy(t *testing.T) {
	t.Skip("the deployment tests run on Linux only")
}
