// token_exchange.js adds OAuth 2.0 Token Exchange (RFC 8693), which
// oidc-provider does not implement, through its documented
// registerGrantType hook. It is deliberately narrow:
//
//   - subject_token must be an access token (type
//     urn:ietf:params:oauth:token-type:access_token) this provider issued to
//     the same client and that is still valid: an opaque one is looked up,
//     a JWT one is verified with the provider's signing key;
//   - exactly one target, as resource or audience, naming a configured
//     resource; the new token is a JWT for it with the requested scopes
//     that the resource defines (all of them when scope is absent);
//   - the issued token is a Bearer token: DPoP and mTLS binding are not
//     applied, since the helpers that do so are internal to oidc-provider.

import { createLocalJWKSet, jwtVerify } from 'jose';
import { errors } from 'oidc-provider';

const grantType = 'urn:ietf:params:oauth:grant-type:token-exchange';
const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';
const parameters = ['subject_token', 'subject_token_type', 'resource', 'audience', 'scope',
  'requested_token_type', 'actor_token', 'actor_token_type'];

function single(value, name) {
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new errors.InvalidTarget(`only one ${name} is supported`);
    return value[0];
  }
  return value;
}

// subjectOf returns {accountId, clientId} of a valid access token issued
// here, or undefined.
async function subjectOf(provider, keys, token) {
  const opaque = await provider.AccessToken.find(token);
  if (opaque) return { accountId: opaque.accountId, clientId: opaque.clientId };
  try {
    const { payload } = await jwtVerify(token, keys, { issuer: provider.issuer });
    return { accountId: payload.sub, clientId: payload.client_id };
  } catch {
    return undefined;
  }
}

export function registerTokenExchange(provider, doc, configuration) {
  const publicKeys = configuration.jwks.keys.map(({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use }));
  const keys = createLocalJWKSet({ keys: publicKeys });
  const resources = new Map((doc.resources || []).map((r) => [r.indicator, r]));
  const { getResourceServerInfo } = configuration.features.resourceIndicators;

  async function handler(ctx) {
    const { params, client } = ctx.oidc;
    if (!params.subject_token) throw new errors.InvalidRequest('missing required parameter subject_token');
    if (params.subject_token_type !== accessTokenType) {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    if (params.requested_token_type && params.requested_token_type !== accessTokenType) {
      throw new errors.InvalidRequest('unsupported requested_token_type');
    }
    const resource = single(params.resource, 'resource');
    const audience = single(params.audience, 'audience');
    if (resource && audience && resource !== audience) {
      throw new errors.InvalidTarget('resource and audience differ');
    }
    const target = resource || audience;
    if (!target || !resources.has(target)) throw new errors.InvalidTarget();

    const subject = await subjectOf(provider, keys, params.subject_token);
    if (!subject || subject.clientId !== client.clientId || !subject.accountId) {
      throw new errors.InvalidGrant('subject_token is not a valid access token of this client');
    }

    const info = await getResourceServerInfo(ctx, target, client);
    const offered = new Set(info.scope.split(' '));
    const requested = params.scope ? params.scope.split(' ') : [...offered];
    const unknown = requested.filter((s) => !offered.has(s));
    if (unknown.length) throw new errors.InvalidScope('requested scope is not offered by the resource', unknown.join(' '));

    const at = new provider.AccessToken({
      accountId: subject.accountId,
      client,
      gty: grantType,
      scope: requested.join(' '),
    });
    at.resourceServer = new provider.ResourceServer(target, info);
    const value = await at.save();
    ctx.body = {
      access_token: value,
      issued_token_type: accessTokenType,
      token_type: at.tokenType,
      expires_in: at.expiration,
      scope: at.scope,
    };
  }

  provider.registerGrantType(grantType, handler, parameters, ['resource', 'audience']);
}
