// config.js turns the JSON document from Go into oidc-provider's
// configuration. The document (written by e2e/fapiop/document.go):
//
//   port                 number, 0 = any free port
//   tls                  bool: serve the issuer over https with serverCert/serverKey
//   serverCert/serverKey PEM, for tls and mtls
//   mtls                 {port, clientCA (PEM), certificateBoundAccessTokens,
//                         tlsClientAuth, selfSignedTlsClientAuth}, absent = off
//   par                  "off" | "optional" | "required"
//   dpop                 {enabled, nonce}
//   resources            [{indicator, scopes: [], accessTokenTTL (s)}]
//   useGrantedResource   bool: the token endpoint may omit a granted resource
//   scopes               extra scopes beyond openid, offline_access, profile, email
//   acrValues            acr values honoured from acr_values; [] = ignore acr_values
//   users                [{sub, username, password, acr, amr: [], claims: {}}]
//   clients              oidc-provider client metadata, passed through
//   ttl                  {accessToken, idToken, refreshToken} in seconds
//   disable              {revocation, introspection, backchannelLogout,
//                         rpInitiatedLogout, clientCredentials, refreshRotation}
//   tokenExchange        bool: register the RFC 8693 grant (token_exchange.js)

import * as crypto from 'node:crypto';

import { errors, interactionPolicy } from 'oidc-provider';

import { logoutSource, postLogoutSuccessSource, renderError } from './interactions.js';

// Claims that belong to the standard scopes (OpenID Connect Core 5.4); any
// other user claim is released with openid.
const standardScopes = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
};

function claimsConfig(users) {
  const claims = {
    acr: null, amr: null, auth_time: null, sid: null, iss: null,
    // Under openid, every ID token says how the user signed in, not only
    // one whose request asked (acr_values, max_age, the claims parameter).
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    ...structuredClone(standardScopes),
  };
  const standard = new Set(Object.values(standardScopes).flat());
  for (const user of users) {
    for (const name of Object.keys(user.claims || {})) {
      if (!standard.has(name) && !claims.openid.includes(name)) claims.openid.push(name);
    }
  }
  return claims;
}

function findAccountFor(users) {
  const bySub = new Map(users.map((u) => [u.sub, u]));
  return async (ctx, sub) => {
    const user = bySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { preferred_username: user.username, ...user.claims, sub };
      },
    };
  };
}

// acrPolicy makes a session whose acr is not one of the honoured values
// the request asks for log in again, so that acr_values can step up an
// existing session. Without honoured values acr_values is ignored.
function acrPolicy(acrValues) {
  const policy = interactionPolicy.base();
  if (!acrValues.length) return policy;
  const honoured = new Set(acrValues);
  policy.get('login').checks.add(new interactionPolicy.Check(
    'acr_values',
    'a requested acr value is not satisfied by the session',
    (ctx) => {
      const { oidc } = ctx;
      const wanted = (oidc.params.acr_values || '').split(' ').filter((v) => honoured.has(v));
      if (!wanted.length || !oidc.session.accountId || oidc.result?.login) {
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }
      return wanted.includes(oidc.acr)
        ? interactionPolicy.Check.NO_NEED_TO_PROMPT
        : interactionPolicy.Check.REQUEST_PROMPT;
    },
  ));
  return policy;
}

function resourceIndicators(doc) {
  const byIndicator = new Map((doc.resources || []).map((r) => [r.indicator, r]));
  return {
    enabled: true,
    // A request naming no resource gets none (a UserInfo token); several
    // at the token endpoint must be narrowed by the client.
    defaultResource: async (ctx, client, oneOf) => oneOf,
    useGrantedResource: async () => !!doc.useGrantedResource,
    // Unknown indicators are invalid_target; known ones get JWT access
    // tokens whose aud is the indicator itself.
    getResourceServerInfo: async (ctx, indicator) => {
      const r = byIndicator.get(indicator);
      if (!r) throw new errors.InvalidTarget();
      return {
        scope: r.scopes.join(' '),
        accessTokenFormat: 'jwt',
        accessTokenTTL: r.accessTokenTTL || undefined,
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

function mtlsFeature(mtls) {
  if (!mtls) return { enabled: false };
  return {
    enabled: true,
    certificateBoundAccessTokens: !!mtls.certificateBoundAccessTokens,
    tlsClientAuth: !!mtls.tlsClientAuth,
    selfSignedTlsClientAuth: !!mtls.selfSignedTlsClientAuth,
    getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.(),
    // rejectUnauthorized is off on the listener, so authorized says whether
    // the chain ends at clientCA.
    certificateAuthorized: (ctx) => ctx.socket.authorized === true,
    certificateSubjectMatches: (ctx, property, expected) => {
      const cert = ctx.socket.getPeerX509Certificate();
      switch (property) {
        case 'tls_client_auth_subject_dn':
          // Node prints the subject one RDN a line; registrations use the
          // comma-separated form (RFC 4514 order is not checked).
          return cert.subject.split('\n').join(',') === expected;
        case 'tls_client_auth_san_dns':
          return (cert.subjectAltName || '').split(', ').includes(`DNS:${expected}`);
        default:
          return false;
      }
    },
  };
}

// loopbackFetch lets the provider call clients on loopback (jwks_uri,
// back-channel logout), where tests run them; oidc-provider's guard
// against server-side request forgery refuses special-use addresses, and
// still does for any other host.
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
function loopbackFetch(url, options) {
  if (loopback.has(new URL(url).hostname)) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  }
  return globalThis.fetch(url, options);
}

export function buildConfiguration(doc, { mtlsOrigin, key }) {
  const jwk = { ...key.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: crypto.randomUUID() };
  const disable = doc.disable || {};
  const ttl = doc.ttl || {};
  const users = doc.users || [];
  const acrValues = doc.acrValues || [];
  const accessTokenTTL = (ctx, token) => token.resourceServer?.accessTokenTTL || ttl.accessToken || 300;

  const discovery = { claim_types_supported: ['normal'] };
  if (mtlsOrigin) {
    discovery.mtls_endpoint_aliases = {
      token_endpoint: `${mtlsOrigin}/token`,
      pushed_authorization_request_endpoint: doc.par !== 'off' ? `${mtlsOrigin}/request` : undefined,
      revocation_endpoint: disable.revocation ? undefined : `${mtlsOrigin}/token/revocation`,
      introspection_endpoint: disable.introspection ? undefined : `${mtlsOrigin}/token/introspection`,
      userinfo_endpoint: `${mtlsOrigin}/me`,
    };
  }

  return {
    clients: doc.clients || [],
    findAccount: findAccountFor(users),
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    claims: claimsConfig(users),
    // Claims go into the ID token too, as most providers do, not only to
    // UserInfo.
    conformIdTokenClaims: false,
    scopes: ['openid', 'offline_access', 'profile', 'email', ...(doc.scopes || [])],
    acrValues: [...new Set([...acrValues, ...users.map((u) => u.acr).filter(Boolean)])],
    clientAuthMethods: [
      'client_secret_basic', 'client_secret_post', 'private_key_jwt',
      ...(doc.mtls?.tlsClientAuth ? ['tls_client_auth'] : []),
      ...(doc.mtls?.selfSignedTlsClientAuth ? ['self_signed_tls_client_auth'] : []),
    ],
    responseTypes: ['code'],
    pkce: { required: () => true },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: acrPolicy(acrValues),
    },
    discovery,
    renderError,
    fetch: loopbackFetch,
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: {
        enabled: doc.par !== 'off',
        requirePushedAuthorizationRequests: doc.par === 'required',
      },
      dPoP: {
        enabled: !!doc.dpop?.enabled,
        nonceSecret: doc.dpop?.nonce ? crypto.randomBytes(32) : undefined,
        requireNonce: () => !!doc.dpop?.nonce,
      },
      resourceIndicators: resourceIndicators(doc),
      mTLS: mtlsFeature(doc.mtls),
      revocation: { enabled: !disable.revocation },
      introspection: { enabled: !disable.introspection },
      backchannelLogout: { enabled: !disable.backchannelLogout },
      rpInitiatedLogout: {
        enabled: !disable.rpInitiatedLogout,
        logoutSource,
        postLogoutSuccessSource,
      },
      clientCredentials: { enabled: !disable.clientCredentials },
    },
    // Refresh tokens for every client allowed the grant, not only with
    // offline_access: oidc-provider drops offline_access unless
    // prompt=consent, which a BFF does not send on every sign-in. Without
    // offline_access they end with the provider session (oidc-provider's
    // default expiresWithSession), so signing out there revokes them.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: !disable.refreshRotation,
    ttl: {
      AccessToken: accessTokenTTL,
      ClientCredentials: accessTokenTTL,
      IdToken: ttl.idToken || 300,
      RefreshToken: ttl.refreshToken || 24 * 60 * 60,
      AuthorizationCode: 60,
      Interaction: 10 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
    },
  };
}
