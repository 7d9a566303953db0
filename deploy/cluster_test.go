//go:build linux

package deploy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
)

// The variables and programs the proxy test needs.
const (
	postgresEnv = "CONNECTBOOK_TEST_POSTGRES"
	redisEnv    = "CONNECTBOOK_TEST_REDIS"
)

// lookPath finds a program on the PATH or in /usr/sbin, where Debian puts
// nginx (not on a normal user's PATH).
func lookPath(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	p := filepath.Join("/usr/sbin", name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p, true
	}
	return "", false
}

// freePorts returns n different loopback ports nobody listens on at the
// moment.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // held until all are chosen, so that they differ
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func freePort(t *testing.T) int { return freePorts(t, 1)[0] }

// freshPostgres creates a database of its own on the server of
// CONNECTBOOK_TEST_POSTGRES, dropped when t ends, and returns its URL and
// a connection to it.
func freshPostgres(t *testing.T, base string) (string, *sql.DB) {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "cbdeploy_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("%s: creating a database: %v", postgresEnv, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dsn := u.String()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		// FORCE: an instance killed with SIGKILL may leave a connection
		// the server has not noticed yet.
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
		admin.Close()
	})
	return dsn, db
}

// Redis: serve keeps sessions under the default key prefix, which other
// packages' tests use in database 0 (and database numbers 1, 2, 14 and 15
// for stores that must differ). This test claims one of databases 3 to 13
// with a lock key, so that two runs at once do not share one, and deletes
// the sessions' keys there before and after.
const (
	redisLock        = "connectbook-deploy-test:lock"
	redisFirstDB     = 3
	redisLastDB      = 13
	redisSessionKeys = "cb:session:*"
)

// claimRedis returns a URL for a Redis database of this test's own.
func claimRedis(t *testing.T, base string) string {
	t.Helper()
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	var b [8]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ctx := context.Background()
	for db := redisLastDB; db >= redisFirstDB; db-- {
		o := *opt
		o.DB = db
		c := redis.NewClient(&o)
		ok, err := c.SetNX(ctx, redisLock, token, 10*time.Minute).Result()
		if err != nil {
			c.Close()
			t.Fatalf("%s: %v", redisEnv, err)
		}
		if !ok {
			c.Close()
			continue
		}
		deleteKeys(t, c, redisSessionKeys) // left by a run that was killed
		t.Cleanup(func() {
			deleteKeys(t, c, redisSessionKeys)
			c.Del(ctx, redisLock)
			c.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = fmt.Sprintf("/%d", db)
		return u.String()
	}
	t.Fatalf("%s: Redis databases %d to %d are all in use by other runs of this test (key %s)", redisEnv, redisFirstDB, redisLastDB, redisLock)
	return ""
}

func deleteKeys(t *testing.T, c *redis.Client, pattern string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, pattern, 500).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("deleting Redis keys %s: %v", pattern, err)
	}
}

// logBuffer collects a process's output; safe to read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the whole lines that contain every one of subs (the last
// line may be coming yet).
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for line := range strings.Lines(b.String()) {
		all := strings.HasSuffix(line, "\n")
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// accessLines counts the access log's lines: one a request answered.
func (b *logBuffer) accessLines() int { return len(b.lines(`"stream":"access"`)) }

// accessAfter counts the access log's lines written after a moment.
func (b *logBuffer) accessAfter(t *testing.T, after time.Time) int {
	t.Helper()
	n := 0
	for _, line := range b.lines(`"stream":"access"`) {
		var l struct{ Time time.Time }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		if l.Time.After(after) {
			n++
		}
	}
	return n
}

// instance is a running `connectbook serve`.
type instance struct {
	name string
	port int
	addr string // 127.0.0.1:port, where nginx sends requests
	cmd  *exec.Cmd
	out  *logBuffer // standard output: serving, shutting down, stopped
	logs *logBuffer // standard error: the JSON log
	done chan struct{}
	err  error // how the process ended, once done is closed
}

func (i *instance) url() string { return "http://" + i.addr }

// exited reports whether the process has ended.
func (i *instance) exited() bool {
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end and returns how it did.
func (i *instance) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-i.done:
		return i.err
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v; it printed:\n%s", i.name, within, i.out.String())
		return nil
	}
}

// cluster is nginx in front of two ConnectBook instances that share a
// PostgreSQL database and a Redis session store.
type cluster struct {
	bin       string
	dir       string
	dsn       string // the database's URL
	redis     string // the session store's URL
	db        *sql.DB
	serveArgs []string // the flags both instances get besides --addr
	a, b      *instance

	nginx     *exec.Cmd
	nginxDone chan struct{}
	nginxLog  *logBuffer
	https     string // nginx's TLS listener: https://127.0.0.1:port
	plain     string // an HTTP listener proxying as the TLS one does (test only)
	redirect  string // the shipped plain-HTTP listener, which redirects
	roots     *x509.CertPool
}

// newInstance prepares an instance listening on a free port.
func (c *cluster) newInstance(name string, port int) *instance {
	args := append([]string{"serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}, c.serveArgs...)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = cleanEnv()
	dieWithTest(cmd, syscall.SIGKILL)
	i := &instance{name: name, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd,
		out: &logBuffer{}, logs: &logBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = i.out, i.logs
	return i
}

// dieWithTest has the kernel send sig to cmd's process if the test
// process dies first (killed at its timeout, say), so that no server is
// left running.
func dieWithTest(cmd *exec.Cmd, sig syscall.Signal) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: sig}
}

// cleanEnv is the test's environment without CONNECTBOOK_* settings, so
// that only the flags given configure the instances.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONNECTBOOK_") {
			env = append(env, kv)
		}
	}
	return env
}

// startInstances starts the instances at the same moment.
func startInstances(t *testing.T, is ...*instance) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(is))
	gate := make(chan struct{})
	for n, i := range is {
		wg.Go(func() {
			<-gate
			errs[n] = i.cmd.Start()
		})
	}
	close(gate)
	wg.Wait()
	for n, i := range is {
		if errs[n] != nil {
			t.Fatalf("starting %s: %v", i.name, errs[n])
		}
		go func() {
			i.err = i.cmd.Wait()
			close(i.done)
		}()
		t.Cleanup(func() { stopInstance(i) })
	}
}

// stopInstance ends an instance that is still running.
func stopInstance(i *instance) {
	if i.exited() {
		return
	}
	i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-time.After(15 * time.Second):
		i.cmd.Process.Kill()
		<-i.done
	}
}

// waitReady waits until the instance says it is serving and its /readyz
// answers 200, and fails t with its output if it exits first.
func waitReady(t *testing.T, i *instance) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if i.exited() {
			t.Fatalf("%s exited (%v) before it was ready; it printed:\n%s\n%s", i.name, i.err, i.out.String(), i.logs.String())
		}
		if strings.Contains(i.out.String(), "ConnectBook is serving") {
			resp, err := client.Get(i.url() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not ready within 30 s; it printed:\n%s\n%s", i.name, i.out.String(), i.logs.String())
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// and its key, and returns a pool that trusts it.
func writeCert(t *testing.T, certPath, keyPath string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "connectbook.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"connectbook.example", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// nginxPorts are where the generated configuration listens and sends.
type nginxPorts struct {
	redirect, https, plain int // nginx's listeners
	a, b                   int // the instances
}

var (
	listenRE   = regexp.MustCompile(`(?m)^(\s*)listen\s+(\[::\]:)?(80|443)\b([^;]*);[^\n]*\n`)
	upstreamRE = regexp.MustCompile(`(?m)^(\s*)server\s+127\.0\.0\.1:(8081|8082)\b([^;]*);`)
	certRE     = regexp.MustCompile(`(?m)^(\s*)(ssl_certificate|ssl_certificate_key)\s+\S+;`)
)

// nginxConfig makes a configuration for nginx -p dir from the shipped
// site file: the file itself, with its ports, certificate and instances
// swapped for the test's, inside a main context that keeps every file
// nginx writes in dir. One server is added: a plain-HTTP listener with the
// TLS server's own location block, to see what the instances are told
// about requests that came over plain HTTP (the shipped one redirects).
func nginxConfig(site, dir, cert, key string, p nginxPorts) (string, error) {
	counts := map[string]int{}
	site = listenRE.ReplaceAllStringFunc(site, func(m string) string {
		g := listenRE.FindStringSubmatch(m)
		if g[2] != "" {
			counts["listen [::]"]++
			return "" // loopback only, over IPv4
		}
		counts["listen "+g[3]]++
		port := p.redirect
		if g[3] == "443" {
			port = p.https
		}
		return fmt.Sprintf("%slisten 127.0.0.1:%d%s;\n", g[1], port, g[4])
	})
	site = upstreamRE.ReplaceAllStringFunc(site, func(m string) string {
		g := upstreamRE.FindStringSubmatch(m)
		counts["server "+g[2]]++
		port := p.a
		if g[2] == "8082" {
			port = p.b
		}
		return fmt.Sprintf("%sserver 127.0.0.1:%d%s;", g[1], port, g[3])
	})
	site = certRE.ReplaceAllStringFunc(site, func(m string) string {
		g := certRE.FindStringSubmatch(m)
		counts[g[2]]++
		path := cert
		if g[2] == "ssl_certificate_key" {
			path = key
		}
		return fmt.Sprintf("%s%s %s;", g[1], g[2], path)
	})
	for _, k := range []string{"listen 80", "listen 443", "server 8081", "server 8082", "ssl_certificate", "ssl_certificate_key"} {
		if counts[k] != 1 {
			return "", fmt.Errorf("the shipped configuration has %d %q lines, want 1: the test's substitutions no longer fit it", counts[k], k)
		}
	}
	tlsServer, err := block(site, "server", "ssl_certificate ")
	if err != nil {
		return "", err
	}
	location, err := block(tlsServer, "location /", "proxy_pass")
	if err != nil {
		return "", err
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot enter the test's
		// private temporary directories.
		user = "user root;\n"
	}
	tmp := filepath.Join(dir, "tmp")
	return fmt.Sprintf(`%sworker_processes 2;
pid %[2]s/nginx.pid;
events { worker_connections 1024; }
http {
    access_log %[2]s/access.log;
    error_log %[2]s/error.log warn;
    client_body_temp_path %[3]s/body;
    proxy_temp_path %[3]s/proxy;
    fastcgi_temp_path %[3]s/fastcgi;
    uwsgi_temp_path %[3]s/uwsgi;
    scgi_temp_path %[3]s/scgi;

# deploy/nginx/connectbook.conf, ports and certificate swapped:
%[4]s
# Test only: plain HTTP, proxied as the TLS server proxies.
server {
    listen 127.0.0.1:%[5]d;
    %[6]s
}
}
`, user, dir, tmp, site, p.plain, location), nil
}

// block returns the first block "name ... { ... }" in s whose text holds
// marker, braces and all.
func block(s, name, marker string) (string, error) {
	for from := 0; ; {
		i := strings.Index(s[from:], name)
		if i < 0 {
			return "", fmt.Errorf("no %q block holding %q in the shipped configuration", name, marker)
		}
		start := from + i
		open := strings.IndexByte(s[start:], '{')
		if open < 0 {
			return "", fmt.Errorf("%q without a block in the shipped configuration", name)
		}
		depth := 0
		for j := start + open; j < len(s); j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
			if depth == 0 {
				b := s[start : j+1]
				if strings.Contains(b, marker) {
					return b, nil
				}
				from = j + 1
				break
			}
		}
		if depth != 0 {
			return "", fmt.Errorf("unbalanced braces in the shipped configuration")
		}
	}
}

// startNginx writes the configuration, checks it with nginx -t and runs
// nginx in the foreground until t ends.
func (c *cluster) startNginx(t *testing.T, nginx string, p nginxPorts) {
	t.Helper()
	dir := filepath.Join(c.dir, "nginx")
	for _, d := range []string{dir, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c.roots = writeCert(t, cert, key)
	site, err := os.ReadFile(filepath.Join("nginx", "connectbook.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := nginxConfig(string(site), dir, cert, key, p)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(nginx, append(args, "-t", "-q")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t refused the configuration made from deploy/nginx/connectbook.conf: %v\n%s\n%s", err, out, conf)
	}
	c.nginxLog = &logBuffer{}
	c.nginx = exec.Command(nginx, append(args, "-g", "daemon off;")...)
	dieWithTest(c.nginx, syscall.SIGTERM) // nginx's master then stops its workers
	c.nginx.Stdout, c.nginx.Stderr = c.nginxLog, c.nginxLog
	if err := c.nginx.Start(); err != nil {
		t.Fatal(err)
	}
	c.nginxDone = make(chan struct{})
	go func() {
		c.nginx.Wait()
		close(c.nginxDone)
	}()
	t.Cleanup(func() {
		c.nginx.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.nginxDone:
		case <-time.After(10 * time.Second):
			c.nginx.Process.Kill()
			<-c.nginxDone
		}
	})
	c.https = fmt.Sprintf("https://127.0.0.1:%d", p.https)
	c.plain = fmt.Sprintf("http://127.0.0.1:%d", p.plain)
	c.redirect = fmt.Sprintf("http://127.0.0.1:%d", p.redirect)
	for _, port := range []int{p.https, p.plain, p.redirect} {
		waitListening(t, port, c.nginxDone, c.nginxLog)
	}
}

// reloadNginx makes nginx read its configuration again, which also
// forgets which instances failed lately.
func (c *cluster) reloadNginx(t *testing.T) {
	t.Helper()
	if err := c.nginx.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func waitListening(t *testing.T, port int, done chan struct{}, log *logBuffer) {
	t.Helper()
	for range 500 {
		select {
		case <-done:
			t.Fatalf("nginx exited: %s", log.String())
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nginx is not listening on port %d: %s", port, log.String())
}
