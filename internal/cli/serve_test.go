package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/testdb"
)

// Serve's TLS offers TLS 1.3, and TLS 1.2 only with forward-secret AEAD
// suites: real handshakes with clients that insist on anything else fail,
// with the ECDSA certificate of --tls-self-signed and with an RSA one from
// --tls-cert.
func TestServeTLSPolicy(t *testing.T) {
	certFile, keyFile := rsaCertFiles(t)
	for _, srv := range []struct {
		name  string
		args  []string
		ecdsa bool
	}{
		{"self-signed ECDSA", []string{"--tls-self-signed"}, true},
		{"RSA from files", []string{"--tls-cert", certFile, "--tls-key", keyFile}, false},
	} {
		t.Run(srv.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := startServe(t, ctx, append([]string{"--addr", "127.0.0.1:0", "--db", testdb.SQLite(t)}, srv.args...)...)
			addr := strings.TrimPrefix(s.url, "https://")
			for _, tc := range []struct {
				name       string
				version    uint16 // the client's only version
				ecdsa, rsa uint16 // its only TLS 1.2 suite for each kind of key; 0: Go's defaults
				ok         bool
			}{
				{"TLS 1.3", tls.VersionTLS13, 0, 0, true},
				{"AES-128-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
				{"AES-256-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true},
				{"ChaCha20-Poly1305", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
				{"AES-128-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false},
				{"AES-256-CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, false},
				{"AES-128-CBC-SHA256", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, false},
				{"RSA key exchange", tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, false},
				{"TLS 1.1", tls.VersionTLS11, 0, 0, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					suite := tc.rsa
					if srv.ecdsa {
						suite = tc.ecdsa
					}
					cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tc.version, MaxVersion: tc.version}
					if suite != 0 {
						cfg.CipherSuites = []uint16{suite}
					}
					st, err := handshake(addr, cfg)
					switch {
					case tc.ok && err != nil:
						t.Fatalf("handshake failed: %v", err)
					case tc.ok && (st.Version != tc.version || suite != 0 && st.CipherSuite != suite):
						t.Fatalf("got %s with %s, want %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), tls.VersionName(tc.version))
					case !tc.ok && err == nil:
						t.Fatalf("handshake succeeded with %s and %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
					case !tc.ok && !strings.Contains(err.Error(), "remote error: tls:"):
						t.Fatalf("got %v, want the server's alert", err)
					}
				})
			}
			cancel()
			s.wait(t)
		})
	}
}

func handshake(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// rsaCertFiles writes a self-signed RSA certificate for 127.0.0.1 and its
// key, as PEM files for --tls-cert and --tls-key.
func rsaCertFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
