// interactions.js is the provider's user interface: a plain login form
// (username and password, posted to /interaction/<uid>/login), consent
// granted without a page, and the logout pages. Go tests drive it over
// HTTP with a cookie jar (fapiop.Provider.SignIn); the element IDs are what
// they look for.

const style = '<style>body{font:16px system-ui,sans-serif;max-width:24rem;margin:3rem auto}'
  + 'label,input,button{display:block;width:100%;margin:.3rem 0}'
  + '[role=alert]{color:#b00020}</style>';

function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)} - fapiop</title>`
    + `${style}</head><body><main><p>fapiop · oidc-provider for tests</p>${body}</main></body></html>`;
}

function send(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(html);
}

function loginForm(uid, { username = '', error = '' } = {}) {
  return page('Sign in', '<h1>Sign in</h1>'
    + (error ? `<p id="error" role="alert">${escape(error)}</p>` : '')
    + `<form id="login" method="post" action="/interaction/${escape(uid)}/login">`
    + `<label for="username">Username</label><input id="username" name="username" value="${escape(username)}" required autofocus>`
    + '<label for="password">Password</label><input id="password" name="password" type="password" required>'
    + '<button id="submit" type="submit">Sign in</button></form>');
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// chooseAcr is the acr of a login: the first requested acr_values entry
// that the provider honours, else the user's own.
function chooseAcr(doc, user, params) {
  const honoured = new Set(doc.acrValues || []);
  const wanted = (params.acr_values || '').split(' ').find((v) => honoured.has(v));
  return wanted || user.acr || undefined;
}

// grantConsent records every scope, claim and resource scope the request
// is missing, as a user clicking "allow" would.
async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

export async function handleInteraction(provider, doc, req, res, { uid, login }) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params } = details;

  if (!login) {
    if (req.method !== 'GET') return send(res, 405, page('Error', '<p>method not allowed</p>'));
    if (prompt.name === 'consent') {
      const id = await grantConsent(provider, details);
      return provider.interactionFinished(req, res, { consent: { grantId: id } }, { mergeWithLastSubmission: true });
    }
    return send(res, 200, loginForm(uid));
  }

  if (req.method !== 'POST' || prompt.name !== 'login') {
    return send(res, 400, page('Error', '<p>no login pending</p>'));
  }
  const form = await readForm(req);
  const username = form.get('username') || '';
  const user = (doc.users || []).find((u) => u.username === username && u.password === form.get('password'));
  if (!user) {
    return send(res, 200, loginForm(uid, { username, error: 'Invalid username or password.' }));
  }
  return provider.interactionFinished(req, res, {
    login: { accountId: user.sub, acr: chooseAcr(doc, user, params), amr: user.amr?.length ? user.amr : undefined },
  }, { mergeWithLastSubmission: false });
}

// logoutSource renders RP-Initiated Logout's confirmation; form posts the
// provider's xsrf token.
export async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out', '<h1>Sign out?</h1>' + form
    + '<button id="logout" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>');
}

export async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1 id="signed-out">You are signed out.</h1>');
}

// renderError shows the error code and description; there is nothing else
// a test could act on.
export async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Error', `<h1 id="error">${escape(out.error)}</h1><p>${escape(out.error_description)}</p>`);
}
