//go:build linux

package deploy_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Dockerfile's build runs once for the package, and the proxy test
// runs the binary it makes: the one the image ships.
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns ConnectBook built with the Dockerfile's build command.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.bin, build.err = buildAsDockerfile()
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func buildAsDockerfile() (string, error) {
	df, err := readDockerfile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		return "", err
	}
	bc, err := df.buildCommand()
	if err != nil {
		return "", err
	}
	build.dir, err = os.MkdirTemp("", "connectbook-deploy-")
	if err != nil {
		return "", err
	}
	// Others may run it: the Dockerfile test runs it as the image's user.
	if err := os.Chmod(build.dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(build.dir, "connectbook")
	args := append(append([]string{}, bc.args[:bc.out]...), bin)
	args = append(args, bc.args[bc.out+1:]...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), bc.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("the Dockerfile's build (%s go %s): %v\n%s", strings.Join(bc.env, " "), strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// instruction is one line of a Dockerfile, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
	line int
}

// dockerfile is a Dockerfile's instructions by stage.
type dockerfile struct {
	stages [][]instruction // each starts with its FROM
}

func readDockerfile(path string) (*dockerfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	df := &dockerfile{}
	sc := bufio.NewScanner(f)
	var cur strings.Builder
	n, start := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			df.stages = append(df.stages, nil)
		} else if len(df.stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			return nil, fmt.Errorf("%s:%d: %s before FROM", path, start, in.cmd)
		}
		df.stages[len(df.stages)-1] = append(df.stages[len(df.stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return df, nil
}

func (df *dockerfile) final() []instruction { return df.stages[len(df.stages)-1] }

// last returns the last instruction cmd of a stage.
func last(stage []instruction, cmd string) (instruction, bool) {
	for i := len(stage) - 1; i >= 0; i-- {
		if stage[i].cmd == cmd {
			return stage[i], true
		}
	}
	return instruction{}, false
}

// buildCmd is the Dockerfile's `go build`: its variables, and its
// arguments after "go" with the index of the -o value.
type buildCmd struct {
	stage int
	env   []string
	args  []string
	out   int
}

func (b buildCmd) output() string { return b.args[b.out] }

// buildCommand finds the RUN that runs `go build` and splits it as a
// shell would (quotes; && between commands).
func (df *dockerfile) buildCommand() (buildCmd, error) {
	for s, stage := range df.stages {
		for _, in := range stage {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			words, err := shellWords(in.args)
			if err != nil {
				return buildCmd{}, fmt.Errorf("Dockerfile:%d: %v", in.line, err)
			}
			for _, cmd := range splitWords(words, "&&") {
				var b buildCmd
				b.stage = s
				i := 0
				for ; i < len(cmd) && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(cmd[i]); i++ {
					b.env = append(b.env, cmd[i])
				}
				if len(cmd) < i+2 || cmd[i] != "go" || cmd[i+1] != "build" {
					continue
				}
				b.args = cmd[i+1:]
				b.out = -1
				for j, a := range b.args {
					if a == "-o" && j+1 < len(b.args) {
						b.out = j + 1
					}
				}
				if b.out < 0 {
					return buildCmd{}, fmt.Errorf("Dockerfile:%d: go build without -o", in.line)
				}
				return b, nil
			}
		}
	}
	return buildCmd{}, errors.New("Dockerfile: no RUN of go build")
}

// shellWords splits s into words as sh does for plain words and quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false // inside a word
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New(`unterminated "`)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

func splitWords(words []string, sep string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		if w == sep {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, w)
	}
	return append(out, cur)
}

// envOf returns the variables a stage's ENV instructions set.
func envOf(stage []instruction) (map[string]string, error) {
	env := map[string]string{}
	for _, in := range stage {
		if in.cmd != "ENV" {
			continue
		}
		words, err := shellWords(in.args)
		if err != nil {
			return nil, err
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				return nil, fmt.Errorf("Dockerfile:%d: ENV %q: write ENV KEY=value", in.line, w)
			}
			env[k] = v
		}
	}
	return env, nil
}

// The Dockerfile builds in one stage and ships from another: a static
// binary (no dynamic loader, no shared libraries), copied from where the
// build puts it to where the entry point runs it, as a numeric user other
// than root.
func TestDockerfile(t *testing.T) {
	df, err := readDockerfile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) < 2 {
		t.Fatalf("%d stage(s); want a build stage and a final one", len(df.stages))
	}
	final := df.final()
	if base := final[0].args; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("the final stage is FROM %s; want scratch or gcr.io/distroless/static…", base)
	}

	user, ok := last(final, "USER")
	if !ok {
		t.Fatal("the final stage sets no USER: the container would run as root")
	}
	uid, gid, hasGroup := strings.Cut(user.args, ":")
	ids := []string{uid}
	if hasGroup {
		ids = append(ids, gid)
	}
	for _, id := range ids {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %s: want a numeric user (and group) other than 0, which a runtime can check is not root", user.args)
			break
		}
	}
	volume := volumeOf(final)
	owner := ownerOf(final, volume)
	if volume == "" {
		t.Errorf("the final stage declares no VOLUME for the database")
	} else if owner != user.args {
		t.Errorf("the volume %s is made with owner %q, not the USER %s: a new volume would not be writable, and the database not created", volume, owner, user.args)
	}

	bc, err := df.buildCommand()
	if err != nil {
		t.Fatal(err)
	}
	if bc.stage == len(df.stages)-1 {
		t.Errorf("go build runs in the final stage: the image would carry the Go toolchain")
	}
	copied := ""
	for _, in := range final {
		f := strings.Fields(in.args)
		if in.cmd == "COPY" && len(f) >= 3 && strings.HasPrefix(f[0], "--from=") && f[len(f)-2] == bc.output() {
			copied = f[len(f)-1]
		}
	}
	if copied == "" {
		t.Errorf("the final stage does not COPY --from the build's output %s", bc.output())
	}
	entry, ok := last(final, "ENTRYPOINT")
	var argv []string
	if !ok || json.Unmarshal([]byte(entry.args), &argv) != nil || len(argv) == 0 {
		t.Errorf("ENTRYPOINT %q: want the exec form, [\"/path/to/connectbook\"] (distroless has no shell)", entry.args)
	} else if argv[0] != copied {
		t.Errorf("ENTRYPOINT runs %s; the binary is copied to %s", argv[0], copied)
	}

	bin := binary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v): it is not static", libs, err)
	}

	t.Run("ServesWithTheImagesSettings", func(t *testing.T) { testImageEnv(t, bin, final, volume, owner) })
	t.Run("DockerignoreKeepsTheBuildsFiles", testDockerignore)
}

// volumeOf returns the final stage's (first) VOLUME, or "".
func volumeOf(stage []instruction) string {
	in, ok := last(stage, "VOLUME")
	if !ok {
		return ""
	}
	var paths []string
	if json.Unmarshal([]byte(in.args), &paths) != nil {
		paths = strings.Fields(in.args)
	}
	if len(paths) == 0 {
		return ""
	}
	return strings.TrimSuffix(paths[0], "/")
}

// ownerOf returns the --chown of the COPY that makes dir, or "".
func ownerOf(stage []instruction, dir string) string {
	for _, in := range stage {
		f := strings.Fields(in.args)
		if in.cmd != "COPY" || len(f) < 2 || strings.TrimSuffix(f[len(f)-1], "/") != dir {
			continue
		}
		for _, flag := range f {
			if owner, ok := strings.CutPrefix(flag, "--chown="); ok {
				return owner
			}
		}
	}
	return ""
}

// ids parses "uid[:gid]".
func ids(s string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(s, ":")
	if uid, err = strconv.Atoi(u); err != nil {
		return 0, 0, err
	}
	if !hasGroup {
		return uid, uid, nil
	}
	gid, err = strconv.Atoi(g)
	return uid, gid, err
}

// The binary, given exactly the environment the image sets (its volume
// and port moved into the test's), starts serving: the defaults pass
// serve's checks. Run as root, the test runs it as the image's user, over
// a data directory with the owner the image gives its volume.
func testImageEnv(t *testing.T, bin string, final []instruction, volume, owner string) {
	env, err := envOf(final)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(build.dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(data)
	cmd := exec.Command(bin)
	if user, ok := last(final, "USER"); ok && os.Geteuid() == 0 {
		u, g, err := ids(user.args)
		if err != nil {
			t.Fatalf("USER %s: %v", user.args, err)
		}
		if owner == "" {
			owner = "0:0" // made without --chown: root's
		}
		ou, og, err := ids(owner)
		if err != nil {
			t.Fatalf("the volume's owner %q: %v", owner, err)
		}
		if err := os.Chown(data, ou, og); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(g)}}
	}
	if entry, ok := last(final, "CMD"); ok {
		var args []string
		if err := json.Unmarshal([]byte(entry.args), &args); err != nil {
			t.Fatalf("CMD %s: %v", entry.args, err)
		}
		cmd.Args = append(cmd.Args, args...)
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range env {
		switch {
		case k == "CONNECTBOOK_ADDR":
			host, _, err := net.SplitHostPort(v)
			if err != nil {
				t.Fatalf("CONNECTBOOK_ADDR=%s: %v", v, err)
			}
			v = net.JoinHostPort(host, "0")
		case volume != "" && strings.HasPrefix(v, volume+"/"):
			v = filepath.Join(data, strings.TrimPrefix(v, volume+"/"))
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	serving := regexp.MustCompile(`ConnectBook is serving http://(\S+)`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("with the image's environment %v, serve exited (%v):\n%s", cmd.Env, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := serving.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		t.Fatalf("serve did not start with the image's environment:\n%s", out.String())
	}
	_, port, _ := net.SplitHostPort(addr)
	resp, err := http.Get("http://127.0.0.1:" + port + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with the image's environment: %v, %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Errorf("serve exited with %v after SIGTERM:\n%s", err, out.String())
	}
}

// .dockerignore leaves out nothing the build reads: no Go or embedded file
// of the program's packages, no go.mod or go.sum.
func testDockerignore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := dockerignore(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`,
		"./cmd/connectbook")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(dir, name)))
		}
	}
	if len(files) < 20 {
		t.Fatalf("go list found only %v", files)
	}
	for _, f := range files {
		if ignore(f) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", f)
		}
	}
}

// dockerignore returns whether a path (slash-separated, relative to the
// context) is left out of the build context, as Docker reads the file:
// Go's filepath.Match patterns plus "**" for any number of directories,
// a leading "!" to take a path back in, the last matching line winning,
// and a directory left out with everything in it.
func dockerignore(text string) (func(string) bool, error) {
	type rule struct {
		re     *regexp.Regexp
		negate bool
	}
	var rules []rule
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := rule{}
		if strings.HasPrefix(line, "!") {
			r.negate, line = true, strings.TrimSpace(line[1:])
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("(/.*)?$") // a directory, with what it holds
		compiled, err := regexp.Compile(re.String())
		if err != nil {
			return nil, fmt.Errorf(".dockerignore %q: %v", line, err)
		}
		r.re = compiled
		rules = append(rules, r)
	}
	return func(path string) bool {
		out := false
		for _, r := range rules {
			if r.re.MatchString(path) {
				out = !r.negate
			}
		}
		return out
	}, nil
}
