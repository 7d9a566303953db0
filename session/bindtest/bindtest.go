// Package bindtest plays the browser's part of Device Bound Session
// Credentials in tests: it makes keys, reads the server's registration and
// challenge headers, and signs proofs the way Chromium does (a compact JWS
// of type dbsc+jwt whose payload is {"jti": challenge}; at registration
// the public key is embedded in the header as a JWK).
package bindtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Key is a device key pair.
type Key struct {
	Alg     jose.SignatureAlgorithm
	Private crypto.Signer
}

// NewES256 returns a fresh P-256 key, as Chromium's software keys are.
func NewES256() *Key {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Key{Alg: jose.ES256, Private: k}
}

// NewRS256 returns a fresh RSA key of the given size for RS256.
func NewRS256(bits int) *Key {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return &Key{Alg: jose.RS256, Private: k}
}

// Registration is what a Secure-Session-Registration header offers.
type Registration struct {
	Algorithms []string
	Path       string
	Challenge  string
}

// ParseRegistration reads a Secure-Session-Registration header such as
// `(ES256 RS256);path="/dbsc/register";challenge="abc"`.
func ParseRegistration(h string) (Registration, error) {
	var reg Registration
	list, params, ok := strings.Cut(h, ";")
	if !ok || !strings.HasPrefix(list, "(") || !strings.HasSuffix(list, ")") {
		return reg, fmt.Errorf("bindtest: malformed registration header %q", h)
	}
	reg.Algorithms = strings.Fields(strings.Trim(list, "()"))
	p := parseParams(params)
	reg.Path, reg.Challenge = p["path"], p["challenge"]
	if reg.Path == "" || reg.Challenge == "" {
		return reg, fmt.Errorf("bindtest: registration header %q lacks path or challenge", h)
	}
	return reg, nil
}

// ParseChallenge reads a Secure-Session-Challenge header such as
// `"abc";id="session id"`.
func ParseChallenge(h string) (challenge, id string, err error) {
	c, params, _ := strings.Cut(h, ";")
	c = strings.TrimSpace(c)
	if len(c) < 2 || c[0] != '"' || c[len(c)-1] != '"' {
		return "", "", fmt.Errorf("bindtest: malformed challenge header %q", h)
	}
	return c[1 : len(c)-1], parseParams(params)["id"], nil
}

func parseParams(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// Proof returns the signed proof for challenge. embed puts the public key
// in the header, as at registration.
func (k *Key) Proof(challenge string, embed bool) string {
	return k.ProofOfType(challenge, embed, "dbsc+jwt")
}

// ProofOfType is Proof with another JWT type in the header, to see it
// refused.
func (k *Key) ProofOfType(challenge string, embed bool, typ string) string {
	opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Private}, opts)
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(map[string]string{"jti": challenge})
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// Unsigned returns a proof for challenge with the given header fields and
// no signature ("alg": "none" and the like), to see it refused.
func Unsigned(header map[string]any, challenge string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(map[string]string{"jti": challenge})
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// PublicJWK returns the key's public half as a JWK object, for headers
// built by hand.
func (k *Key) PublicJWK() map[string]any {
	b, err := (&jose.JSONWebKey{Key: k.Private.Public()}).MarshalJSON()
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// ErrNoHeader is returned when a response lacks the header asked for.
var ErrNoHeader = errors.New("bindtest: header missing")
