// Demo SPA for the BFF. It holds no tokens: every call goes to this origin
// with the session cookie and the anti-forgery header X-CSRF: 1, and the BFF
// does the rest. Everything inserted into the page goes through textContent.

const POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

const state = {
  view: 'loading', // loading | signed-out | signed-in
  wasSignedIn: false,
  user: null,
  userKey: '', // sub + session id of the rendered user
  pollTimer: 0,
  checking: false,
};

class SignedOut extends Error {}

// request calls the BFF on this origin. Any 401 means the session is gone:
// the page switches to the signed-out view and the promise rejects with
// SignedOut so callers stop.
async function request(method, path) {
  const res = await fetch(path, {
    method,
    headers: { 'X-CSRF': '1', Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (res.status === 401) {
    showSignedOut();
    throw new SignedOut();
  }
  return res;
}

// readBody returns the parsed JSON body, or the text when it is not JSON.
async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeError(body, res) {
  if (body && typeof body === 'object') {
    return body.error_description || body.error || `HTTP ${res.status}`;
  }
  return `HTTP ${res.status}`;
}

// ---- views -------------------------------------------------------------

function setView(view) {
  state.view = view;
  document.body.dataset.state = view;
  $('loading-view').hidden = view !== 'loading';
  $('signed-out-view').hidden = view !== 'signed-out';
  $('signed-in-view').hidden = view !== 'signed-in';
  $('sign-out').hidden = view !== 'signed-in';
  $('header-user').hidden = view !== 'signed-in';
  $('loading-view').setAttribute('aria-busy', String(view === 'loading'));
}

function showError(message) {
  const banner = $('error-banner');
  banner.textContent = message;
  banner.hidden = !message;
}

function showSignedOut() {
  const ended = state.wasSignedIn;
  state.user = null;
  state.userKey = '';
  $('session-ended').hidden = !ended;
  $('sign-in').disabled = false;
  showError('');
  setView('signed-out');
}

function displayName(claims, sub) {
  return claims.name || [claims.given_name, claims.family_name].filter(Boolean).join(' ') ||
    claims.preferred_username || claims.email || sub || 'there';
}

function showSignedIn(user) {
  const claims = user.claims || {};
  const key = `${user.sub}|${user.session && user.session.id}`;
  state.user = user;
  state.wasSignedIn = true;
  $('session-ended').hidden = true;
  const name = displayName(claims, user.sub);
  $('user-name').textContent = name;
  $('header-user').textContent = claims.email || name;
  $('user-email').textContent = claims.email ? `Signed in as ${claims.email}` : '';
  renderClaims(claims);
  renderSessionInfo(user.session || {});
  const fresh = key !== state.userKey || state.view !== 'signed-in';
  state.userKey = key;
  setView('signed-in');
  if (fresh) {
    loadAPIs();
    loadSessions();
  }
}

// ---- formatting --------------------------------------------------------

const TIME_CLAIMS = new Set(['iat', 'exp', 'auth_time', 'nbf', 'updated_at']);

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function relative(d) {
  const secs = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(secs);
  if (abs < 45) return secs <= 0 ? 'just now' : 'in a few seconds';
  if (abs < 3600) return relFmt.format(Math.round(secs / 60), 'minute');
  if (abs < 86400) return relFmt.format(Math.round(secs / 3600), 'hour');
  return relFmt.format(Math.round(secs / 86400), 'day');
}

function formatTime(v) {
  const d = toDate(v);
  return d ? `${d.toLocaleString()} (${relative(d)})` : '—';
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- profile -----------------------------------------------------------

function renderClaims(claims) {
  const tbody = $('claims').tBodies[0];
  const rows = Object.keys(claims).sort().map((k) => {
    const v = claims[k];
    const tr = document.createElement('tr');
    tr.dataset.claim = k;
    tr.append(el('td', '', k));
    const td = el('td', '', typeof v === 'string' ? v : JSON.stringify(v));
    if (TIME_CLAIMS.has(k) && typeof v === 'number') {
      td.append(el('span', 'hint', formatTime(v)));
    }
    tr.append(td);
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = el('td', 'muted', 'No claims.');
    td.colSpan = 2;
    tr.append(td);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

function renderSessionInfo(s) {
  const items = [
    ['Signed in', formatTime(s.created_at)],
    ['Idle timeout', formatTime(s.idle_expires_at)],
    ['Session ends', formatTime(s.expires_at)],
  ];
  $('session-info').replaceChildren(...items.flatMap(([k, v]) => [el('dt', '', k), el('dd', '', v)]));
}

// ---- APIs --------------------------------------------------------------

async function loadAPIs() {
  const box = $('apis');
  try {
    const res = await request('GET', '/bff/apis');
    const body = await readBody(res);
    if (!res.ok) {
      box.replaceChildren(el('p', 'muted', `Could not load APIs: ${describeError(body, res)}`));
      return;
    }
    const apis = (body && Array.isArray(body.apis)) ? body.apis : [];
    if (apis.length === 0) {
      box.replaceChildren(el('p', 'muted', 'No APIs are configured.'));
      return;
    }
    box.replaceChildren(...apis.map(renderAPI));
  } catch (err) {
    if (err instanceof SignedOut) return;
    box.replaceChildren(el('p', 'muted', 'Could not load APIs: the server did not answer.'));
  }
}

function renderAPI(api) {
  const item = el('div', 'api-item');
  const meta = el('div', 'api-meta');
  meta.append(el('div', 'api-name', api.name || api.prefix));
  const details = [api.prefix];
  if (api.audience) details.push(`audience ${api.audience}`);
  if (Array.isArray(api.scopes) && api.scopes.length) details.push(`scopes ${api.scopes.join(' ')}`);
  if (api.token) details.push(`token: ${api.token}`);
  meta.append(el('div', 'api-detail', details.join(' · ')));
  const btn = el('button', 'btn btn-primary btn-small api-call', `Call ${api.name || api.prefix}`);
  btn.type = 'button';
  btn.dataset.prefix = api.prefix;
  btn.addEventListener('click', () => callAPI(btn, api));
  item.append(meta, btn);
  return item;
}

function isLocalPath(p) {
  return typeof p === 'string' && p.startsWith('/') && !p.startsWith('//') && !p.startsWith('/\\');
}

async function callAPI(btn, api) {
  const status = $('api-status');
  const out = $('api-result');
  if (!isLocalPath(api.prefix)) {
    status.textContent = 'Refused: the API prefix is not a path on this site.';
    status.className = 'result-status error';
    return;
  }
  const url = `${api.prefix.endsWith('/') ? api.prefix : api.prefix + '/'}whoami`;
  btn.disabled = true;
  status.className = 'result-status muted';
  status.textContent = `Calling GET ${url}…`;
  out.textContent = '';
  delete out.dataset.status;
  try {
    const res = await request('GET', url);
    const body = await readBody(res);
    out.dataset.status = String(res.status);
    status.className = `result-status ${res.ok ? 'ok' : 'error'}`;
    status.textContent = `GET ${url} → ${res.status} ${res.statusText || ''}`.trim();
    out.textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
  } catch (err) {
    if (err instanceof SignedOut) return;
    out.dataset.status = '0';
    status.className = 'result-status error';
    status.textContent = `GET ${url} failed: the server did not answer.`;
  } finally {
    btn.disabled = false;
  }
}

// ---- sessions ----------------------------------------------------------

function describeDevice(s) {
  if (s.device) return s.device;
  const ua = s.user_agent || '';
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari'
    : /curl\//.test(ua) ? 'curl' : 'Browser';
  const os = /Android/.test(ua) ? 'Android'
    : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

async function loadSessions() {
  const status = $('sessions-status');
  try {
    const res = await request('GET', '/bff/sessions');
    const body = await readBody(res);
    if (!res.ok) {
      status.textContent = `Could not load sessions: ${describeError(body, res)}`;
      status.hidden = false;
      return;
    }
    const sessions = (body && Array.isArray(body.sessions)) ? body.sessions : [];
    sessions.sort((a, b) => (b.current - a.current) ||
      ((toDate(b.last_seen_at) || 0) - (toDate(a.last_seen_at) || 0)));
    $('session-list').replaceChildren(...sessions.map(renderSession));
    const others = sessions.filter((s) => !s.current).length;
    $('signout-others').disabled = others === 0;
    status.textContent = others === 0 ? 'This is your only session.'
      : `${sessions.length} sessions, ${others} on other devices or browsers.`;
    status.hidden = false;
  } catch (err) {
    if (err instanceof SignedOut) return;
    status.textContent = 'Could not load sessions: the server did not answer.';
    status.hidden = false;
  }
}

function renderSession(s) {
  const li = el('li', s.current ? 'session-row current' : 'session-row');
  li.dataset.id = s.id;
  const main = el('div', 'session-main');
  const title = el('div', 'session-device', describeDevice(s));
  if (s.current) title.append(el('span', 'badge', 'This device'));
  main.append(title);
  const meta = [];
  if (s.ip) meta.push(s.ip);
  const seen = toDate(s.last_seen_at);
  if (seen) meta.push(`active ${relative(seen)}`);
  const created = toDate(s.created_at);
  if (created) meta.push(`signed in ${created.toLocaleString()}`);
  main.append(el('div', 'session-meta', meta.join(' · ')));
  if (s.user_agent) {
    const ua = el('div', 'session-meta', s.user_agent);
    ua.title = s.user_agent;
    main.append(ua);
  }
  li.append(main);
  if (!s.current) {
    const btn = el('button', 'btn btn-danger-outline btn-small session-signout', 'Sign out');
    btn.type = 'button';
    btn.dataset.id = s.id;
    btn.addEventListener('click', () => endSession(btn, s.id));
    li.append(btn);
  }
  return li;
}

async function endSession(btn, id) {
  btn.disabled = true;
  btn.textContent = 'Signing out…';
  try {
    const res = await request('DELETE', `/bff/sessions/${encodeURIComponent(id)}`);
    // 404: already gone, which is what was asked for.
    if (!res.ok && res.status !== 404) {
      showError(`Could not sign that session out: ${describeError(await readBody(res), res)}`);
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    showError('Could not sign that session out: the server did not answer.');
  }
  await loadSessions();
}

async function endOtherSessions() {
  const btn = $('signout-others');
  btn.disabled = true;
  try {
    const res = await request('DELETE', '/bff/sessions');
    if (!res.ok) {
      showError(`Could not sign the other sessions out: ${describeError(await readBody(res), res)}`);
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    showError('Could not sign the other sessions out: the server did not answer.');
  }
  await loadSessions();
}

// ---- session check and polling -----------------------------------------

// checkUser asks who is signed in and switches views to match.
async function checkUser() {
  if (state.checking) return;
  state.checking = true;
  try {
    const res = await request('GET', '/bff/user');
    const body = await readBody(res);
    if (!res.ok || !body || typeof body !== 'object') {
      throw new Error(describeError(body, res));
    }
    showError('');
    showSignedIn(body);
  } catch (err) {
    if (err instanceof SignedOut) return;
    if (state.view === 'loading') {
      $('loading-text').textContent = 'Could not reach the server.';
      $('retry').hidden = false;
    } else {
      showError('Could not reach the server. Retrying…');
    }
  } finally {
    state.checking = false;
  }
}

function startPolling() {
  stopPolling();
  if (document.visibilityState !== 'visible') return;
  state.pollTimer = window.setInterval(checkUser, POLL_MS);
}

function stopPolling() {
  if (state.pollTimer) window.clearInterval(state.pollTimer);
  state.pollTimer = 0;
}

function signIn() {
  $('sign-in').disabled = true;
  const back = location.pathname + location.search;
  location.assign(`/bff/login?returnUrl=${encodeURIComponent(back)}`);
}

function signOut() {
  const url = state.user && state.user.session && state.user.session.logout_url;
  let target;
  try {
    target = new URL(url, location.origin);
  } catch {
    target = null;
  }
  if (!target || target.origin !== location.origin) {
    showError('Cannot sign out: the server gave no sign-out address on this site.');
    return;
  }
  $('sign-out').disabled = true;
  stopPolling();
  location.assign(target.pathname + target.search);
}

// dropLogoutState removes the state parameter the provider appends when it
// sends the browser back after sign-out (OpenID Connect RP-Initiated Logout
// 1.0, section 3). It means nothing to this page, and left in place it
// would stay in the address bar and ride along in the next sign-in's
// returnUrl.
function dropLogoutState() {
  const url = new URL(location.href);
  if (!url.searchParams.has('state')) return;
  url.searchParams.delete('state');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

function init() {
  dropLogoutState();
  $('sign-in').addEventListener('click', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('signout-others').addEventListener('click', endOtherSessions);
  $('retry').addEventListener('click', () => {
    $('retry').hidden = true;
    $('loading-text').textContent = 'Checking your session…';
    checkUser();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      checkUser();
      if (state.view === 'signed-in') loadSessions();
      startPolling();
    } else {
      stopPolling();
    }
  });
  window.addEventListener('focus', checkUser);
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) {
      $('sign-out').disabled = false;
      checkUser();
      startPolling();
    }
  });
  setView('loading');
  checkUser();
  startPolling();
}

init();
