// Package authz decides, per API call, whether the session may call the
// route: the route's rules (config apis[].require) are compiled once by
// [New] and checked by [Authorizer.Check] on the session's record, before
// any token is fetched or any byte goes upstream.
//
// A rule applies to a call when its methods match (all methods when it
// lists none; a rule for GET covers HEAD, and methods are compared without
// case, as some servers read them). Every rule that applies must hold:
//
//   - claims: each named ID-token claim equals one of the rule's values
//     (or, for an array claim, contains one); else [ErrForbidden]: a
//     stronger sign-in would not change who the user is.
//   - acr, amr, max_age: the sign-in's acr is one of the rule's, its amr
//     has all of the rule's, its auth_time is recent enough; else a
//     [*StepUp] error saying what a new sign-in must achieve.
//
// Claims are read from session.Record.Claims, decoded once per record
// (records are shared and replaced, never changed, so a record's decoded
// claims are cached by its identity: claims.go); the strength comes from
// the record's ACR, AMR and AuthTime, which the sign-in set from the
// verified ID token. A route without rules costs one slice lookup.
//
// It knows nothing of HTTP answers (the bff package renders its errors)
// and must not import bff, proxy or oidcclient; it reads session records.
package authz
