package sampleapi

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// This file checks DPoP proofs the way RFC 9449 section 7.1 asks of a
// resource server: a token bound to a key (cnf.jkt) is accepted only as
// "Authorization: DPoP" with a proof by that key for this very request.

// proofWindow is how far a proof's iat may be from now.
const proofWindow = time.Minute

// proofAlgs are the signature algorithms accepted for proofs: asymmetric
// only (RFC 9449 section 4.3, check 5).
var proofAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA}

// proofs remembers the jti of accepted proofs until they are too old to be
// accepted anyway, and issues nonces.
type proofs struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	nonce string
}

// errProof is a proof failure; its text is fixed and token-free.
type errProof string

func (e errProof) Error() string { return string(e) }

// check verifies the request's DPoP proof for token, whose cnf.jkt is jkt,
// against method and the request URL htu (without query). wantNonce
// requires the API's current nonce.
func (p *proofs) check(r *http.Request, token, jkt, htu string, wantNonce bool) error {
	vals := r.Header.Values("DPoP")
	if len(vals) != 1 {
		return errProof("exactly one DPoP proof is required")
	}
	jws, err := jose.ParseSigned(vals[0], proofAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return errProof("malformed DPoP proof")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return errProof("DPoP proof typ is not dpop+jwt")
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || !h.JSONWebKey.Valid() {
		return errProof("DPoP proof has no public jwk")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return errProof("DPoP proof signature is invalid")
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		Nonce string `json:"nonce"`
		ATH   string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return errProof("DPoP proof claims are malformed")
	}
	sum := sha256.Sum256([]byte(token))
	thumb, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	iat := time.Unix(c.IAT, 0)
	switch {
	case c.JTI == "":
		return errProof("DPoP proof has no jti")
	case c.HTM != r.Method:
		return errProof("DPoP proof htm does not match the request method")
	case c.HTU != htu:
		return errProof("DPoP proof htu does not match the request URL")
	case time.Since(iat).Abs() > proofWindow:
		return errProof("DPoP proof iat is out of range")
	case c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]):
		return errProof("DPoP proof ath does not match the access token")
	case err != nil || base64.RawURLEncoding.EncodeToString(thumb) != jkt:
		return errProof("DPoP proof key is not the key the token is bound to")
	case wantNonce && (c.Nonce == "" || c.Nonce != p.currentNonce()):
		return errUseNonce
	}
	if !p.firstUse(c.JTI, iat) {
		return errProof("DPoP proof was already used")
	}
	return nil
}

// errUseNonce asks the client to send the proof again with the nonce.
var errUseNonce = errors.New("use_dpop_nonce")

func (p *proofs) currentNonce() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nonce == "" {
		p.nonce = rand.Text()
	}
	return p.nonce
}

// firstUse records jti, reporting whether it was new. Entries are dropped
// once their proof is past the window.
func (p *proofs) firstUse(jti string, iat time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.seen == nil {
		p.seen = map[string]time.Time{}
	}
	for k, t := range p.seen {
		if now.Sub(t) > 2*proofWindow {
			delete(p.seen, k)
		}
	}
	if _, ok := p.seen[jti]; ok {
		return false
	}
	p.seen[jti] = iat
	return true
}

// requestURL is the request's URL without query, as the client addressed
// it: the proof's htu.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// authorization splits the Authorization header into scheme (Bearer or
// DPoP, any case) and token.
func authorization(r *http.Request) (scheme, token string) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok {
		return "", ""
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		scheme = "Bearer"
	case strings.EqualFold(scheme, "DPoP"):
		scheme = "DPoP"
	default:
		return "", ""
	}
	return scheme, strings.TrimSpace(token)
}

// dpopChallenge answers a DPoP failure (RFC 9449 section 7.1): 401 with a
// DPoP challenge, and a nonce when the proof lacked it.
func (p *proofs) dpopChallenge(w http.ResponseWriter, err error) {
	code, desc := "invalid_dpop_proof", err.Error()
	if errors.Is(err, errUseNonce) {
		code, desc = "use_dpop_nonce", "Resource server requires nonce in DPoP proof"
		w.Header().Set("DPoP-Nonce", p.currentNonce())
	}
	w.Header().Set("WWW-Authenticate", `DPoP algs="ES256 RS256 PS256", error="`+code+`", error_description="`+desc+`"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": code, "error_description": desc})
}
