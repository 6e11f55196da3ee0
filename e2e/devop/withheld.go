package devop

import (
	"encoding/json"
	"slices"
	"strings"
)

// SetWithheldScopes makes every grant from now on silently leave scopes
// out of the access tokens it issues (their scope or scp claim, and the
// token response's scope field), as a provider does that grants fewer
// scopes than asked for (RFC 6749 section 3.3 allows it). With no scopes,
// nothing is withheld. ID tokens and refresh tokens are not affected.
func (p *Provider) SetWithheldScopes(scopes ...string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.withheld = slices.Clone(scopes)
}

// grant is what an access token gets for the requested scopes: the
// provider's (Config.Like) granted scopes without the withheld ones.
func (s *storage) grant(requested []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grantLocked(requested)
}

func (s *storage) grantLocked(requested []string) []string {
	return slices.DeleteFunc(s.like.granted(requested), func(sc string) bool {
		return slices.Contains(s.withheld, sc)
	})
}

// grantResponseScope sets a successful token response's scope field,
// which op fills with the requested scopes, to what the access token was
// granted. A body that needs no change is returned as it is.
func (s *storage) grantResponseScope(body []byte) []byte {
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil || resp["access_token"] == nil {
		return body
	}
	var scope string
	if raw, ok := resp["scope"]; ok && json.Unmarshal(raw, &scope) != nil {
		return body
	}
	requested := strings.Fields(scope)
	granted := s.grant(requested)
	if slices.Equal(granted, requested) {
		return body
	}
	delete(resp, "scope")
	if len(granted) > 0 {
		resp["scope"], _ = json.Marshal(strings.Join(granted, " "))
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return body
	}
	return out
}
