package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

var versionHelp = help{
	name:     "version",
	synopsis: []string{"connectbook version", "connectbook --version"},
	about: `Shows the module version ("(devel)" when built from a checkout), the
commit it was built from (with -dirty when the checkout had changes; unknown
when the build recorded none) and the Go version that built it.
`,
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	f := newFlags("version", &versionHelp)
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	if f.NArg() > 0 {
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	}
	info, _ := debug.ReadBuildInfo() // nil when the binary has none
	fmt.Fprintln(stdout, versionLine(info))
	return 0
}

// versionLine describes the build info (nil when the binary has none):
// "connectbook v1.2.0, commit 0123456789ab-dirty, go1.26.0 linux/amd64".
func versionLine(info *debug.BuildInfo) string {
	version, commit, goVersion := "(devel)", "unknown", runtime.Version()
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					commit = s.Value[:min(len(s.Value), 12)]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "-dirty"
		}
	}
	return fmt.Sprintf("connectbook %s, commit %s, %s %s/%s", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}
