// Demo SPA for the BFF. It holds no tokens: every call goes to this origin
// with the session cookie and the anti-forgery header X-CSRF: 1, and the BFF
// does the rest. Everything inserted into the page goes through textContent.
//
// It learns of its session from the BFF's event stream (GET /bff/events):
// the session's times, a warning before it expires (with a "stay signed in"
// button that calls POST /bff/keepalive), and its end, in every open tab.
// Reading the stream or /bff/user never keeps the session alive.

// Reopen the stream this long after the BFF refused it (a 429 or 503).
const EVENTS_RETRY_MS = 15000;

const $ = (id) => document.getElementById(id);

const state = {
  view: 'loading', // loading | signed-out | signed-in
  wasSignedIn: false,
  user: null,
  userKey: '', // sub + session id of the rendered user
  checking: false,
  events: null, // the EventSource while signed in
  eventsRetry: 0, // timer to reopen it
  countdown: 0, // timer of the expiry banner
  expiringAt: 0, // ms since the epoch (our clock) of the warned end
};

class SignedOut extends Error {}

// StepUpRequired is a call the BFF refused until the user signs in more
// strongly (a second factor, a recent login): body is the BFF's
// step_up_required answer, with the login_url to go to.
class StepUpRequired extends Error {
  constructor(body) {
    super('step_up_required');
    this.body = body;
  }
}

// request calls the BFF on this origin. On an API call (apiCall) a 401
// step_up_required rejects with StepUpRequired; any other 401 means the
// session is gone: the page switches to the signed-out view and the
// promise rejects with SignedOut so callers stop. The page's address goes
// along as Referer (this origin only), so that a step-up's login_url
// leads back to it.
async function request(method, path, apiCall = false) {
  const res = await fetch(path, {
    method,
    headers: { 'X-CSRF': '1', Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
    referrerPolicy: 'same-origin',
  });
  if (res.status === 401) {
    // Only API calls can need a step-up; /bff/* answers 401 only when the
    // session is gone, and their bodies are not read.
    const body = apiCall ? await readBody(res).catch(() => null) : null;
    if (body && body.error === 'step_up_required') throw new StepUpRequired(body);
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

// Why a session ended, as the user reads it (the ended event's reason).
const ENDED_TEXT = {
  logout: 'You signed out in another tab or window.',
  revoked: 'This session was signed out from another device.',
  backchannel: 'You were signed out at your identity provider.',
  frontchannel: 'You were signed out at your identity provider.',
  expired: 'Your session expired because it was not used.',
  refresh_failed: 'Your session could not be renewed.',
  replaced: 'You signed in again, as another user, in another tab.',
};

function showSignedOut(reason) {
  const ended = state.wasSignedIn || !!reason;
  state.user = null;
  state.userKey = '';
  closeEvents();
  hideExpiring();
  $('session-ended').textContent = `${ENDED_TEXT[reason] || 'Your session ended.'} Sign in again to continue.`;
  $('session-ended').hidden = !ended;
  document.body.dataset.endedReason = reason || '';
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
  openEvents();
  if (fresh) {
    loadAPIs();
    loadSessions();
    resumeStepUp();
  }
}

// ---- session events ----------------------------------------------------

// openEvents opens the session's event stream, once per tab. EventSource
// reconnects by itself after a dropped connection (sending Last-Event-ID);
// a refusal (401, 429, 503) closes it, and the page asks /bff/user.
function openEvents() {
  if (state.events || state.eventsRetry || typeof EventSource === 'undefined') return;
  const es = new EventSource('/bff/events');
  state.events = es;
  es.addEventListener('session', (e) => {
    const s = parseEvent(e);
    if (!s || !state.user) return;
    state.user.session = { ...(state.user.session || {}), ...s };
    renderSessionInfo(state.user.session);
    // A later end than the one warned of: someone stayed signed in.
    if (state.expiringAt && Date.parse(s.idle_expires_at) > state.expiringAt) hideExpiring();
  });
  es.addEventListener('expiring', (e) => {
    const x = parseEvent(e);
    if (x) showExpiring(x);
  });
  es.addEventListener('ended', (e) => {
    const x = parseEvent(e) || {};
    showSignedOut(x.reason || 'unknown');
  });
  // A stronger sign-in in another tab: the session goes on under the new
  // cookie. The stream reconnects by itself with it; the page shows the
  // new strength.
  es.addEventListener('step_up', () => checkUser());
  es.addEventListener('error', () => {
    if (es.readyState !== EventSource.CLOSED) return; // reconnecting by itself
    state.events = null;
    if (state.view !== 'signed-in') return;
    checkUser(); // 401: signed out; otherwise try the stream again later
    state.eventsRetry = window.setTimeout(() => {
      state.eventsRetry = 0;
      if (state.view === 'signed-in') openEvents();
    }, EVENTS_RETRY_MS);
  });
}

function closeEvents() {
  if (state.events) state.events.close();
  state.events = null;
  if (state.eventsRetry) window.clearTimeout(state.eventsRetry);
  state.eventsRetry = 0;
}

function parseEvent(e) {
  try {
    const v = JSON.parse(e.data);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

// showExpiring shows the banner with a countdown. The server's
// seconds_left counts, not its "at": this browser's clock may be off.
function showExpiring(x) {
  const left = Number.isFinite(x.seconds_left) ? x.seconds_left : 0;
  state.expiringAt = Date.parse(x.at) || Date.now() + left * 1000;
  const end = Date.now() + left * 1000;
  const idle = x.reason !== 'lifetime';
  $('expiring-stay').hidden = !idle;
  $('expiring-stay').disabled = false;
  const tick = () => {
    const n = Math.max(0, Math.round((end - Date.now()) / 1000));
    $('expiring-text').textContent = idle
      ? `You will be signed out in ${n} s.`
      : `Your session ends in ${n} s; sign in again to go on.`;
  };
  tick();
  if (state.countdown) window.clearInterval(state.countdown);
  state.countdown = window.setInterval(tick, 1000);
  $('expiring-banner').hidden = false;
}

function hideExpiring() {
  if (state.countdown) window.clearInterval(state.countdown);
  state.countdown = 0;
  state.expiringAt = 0;
  $('expiring-banner').hidden = true;
}

// staySignedIn extends the idle timeout; every tab hears the new end as a
// session event and hides its banner.
async function staySignedIn() {
  $('expiring-stay').disabled = true;
  try {
    const res = await request('POST', '/bff/keepalive');
    if (!res.ok) showError(`Could not keep you signed in: HTTP ${res.status}`);
  } catch (err) {
    if (err instanceof SignedOut) return;
    showError('Could not keep you signed in: the server did not answer.');
  }
  $('expiring-stay').disabled = false;
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

const ACR_NAMES = { pwd: 'password', mfa: 'password and a second factor' };

function describeStrength(s) {
  if (!s.acr) return '—';
  const name = ACR_NAMES[s.acr] ? `${ACR_NAMES[s.acr]} (${s.acr})` : s.acr;
  return s.auth_time ? `${name}, ${formatTime(s.auth_time)}` : name;
}

function renderSessionInfo(s) {
  const items = [
    ['Signed in', formatTime(s.created_at)],
    ['Sign-in strength', describeStrength(s)],
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
  if (!isLocalPath(api.prefix)) {
    status.textContent = 'Refused: the API prefix is not a path on this site.';
    status.className = 'result-status error';
    return;
  }
  const url = `${api.prefix.endsWith('/') ? api.prefix : api.prefix + '/'}whoami`;
  btn.disabled = true;
  try {
    await call('GET', url, false);
  } finally {
    btn.disabled = false;
  }
}

// call makes one API call and shows its answer. A step_up_required answer
// offers the stronger sign-in; afterStepUp marks the retry that follows
// one, which must not loop into another.
async function call(method, url, afterStepUp) {
  const status = $('api-status');
  const out = $('api-result');
  $('step-up').hidden = true;
  status.className = 'result-status muted';
  status.textContent = `Calling ${method} ${url}…`;
  out.textContent = '';
  delete out.dataset.status;
  try {
    const res = await request(method, url, true);
    const body = await readBody(res);
    out.dataset.status = String(res.status);
    status.className = `result-status ${res.ok ? 'ok' : 'error'}`;
    status.textContent = `${method} ${url} → ${res.status} ${res.statusText || ''}`.trim();
    out.textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
  } catch (err) {
    if (err instanceof SignedOut) return;
    if (err instanceof StepUpRequired) {
      showStepUp(method, url, err.body, afterStepUp);
      return;
    }
    out.dataset.status = '0';
    status.className = 'result-status error';
    status.textContent = `${method} ${url} failed: the server did not answer.`;
  }
}

// ---- step-up -----------------------------------------------------------

const PENDING_KEY = 'bff-demo-step-up';
const PENDING_MS = 10 * 60 * 1000;

// showStepUp explains a step_up_required answer and offers its login_url.
// The call is remembered (method and path only) so that it is made again
// once the user is back.
function showStepUp(method, url, body, afterStepUp) {
  const status = $('api-status');
  const out = $('api-result');
  out.dataset.status = '401';
  status.className = 'result-status error';
  status.textContent = `${method} ${url} → 401 step_up_required`;
  out.textContent = JSON.stringify(body, null, 2);
  let target = null;
  try {
    target = new URL(body.login_url, location.origin);
  } catch {
    target = null;
  }
  const box = $('step-up');
  const go = $('step-up-go');
  if (!target || target.origin !== location.origin || target.pathname !== '/bff/login') {
    $('step-up-text').textContent = 'This API needs a stronger sign-in, but the server gave no sign-in address on this site.';
    go.hidden = true;
  } else if (afterStepUp) {
    $('step-up-text').textContent = 'You signed in again, but not strongly enough for this API (your account may have no second factor).';
    go.hidden = true;
  } else {
    const wants = [];
    if (body.acr_values) wants.push(`level ${body.acr_values}`);
    if (typeof body.max_age === 'number') wants.push(`signed in within ${Math.round(body.max_age / 60)} min`);
    $('step-up-text').textContent = `This API needs a stronger sign-in${wants.length ? ` (${wants.join(', ')})` : ''}.`;
    go.hidden = false;
    go.onclick = () => {
      sessionStorage.setItem(PENDING_KEY, JSON.stringify({ method, url, at: Date.now() }));
      go.disabled = true;
      closeEvents();
      location.assign(target.pathname + target.search);
    };
    go.disabled = false;
  }
  box.hidden = false;
}

// resumeStepUp retries the call a step-up sign-in was for, once.
function resumeStepUp() {
  const raw = sessionStorage.getItem(PENDING_KEY);
  if (!raw) return;
  sessionStorage.removeItem(PENDING_KEY);
  let p = null;
  try {
    p = JSON.parse(raw);
  } catch {
    return;
  }
  if (!p || !isLocalPath(p.url) || !/^[A-Z]+$/.test(p.method) || Date.now() - p.at > PENDING_MS) return;
  call(p.method, p.url, true);
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

// ---- session check -----------------------------------------------------

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
  closeEvents();
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
  $('expiring-stay').addEventListener('click', staySignedIn);
  $('retry').addEventListener('click', () => {
    $('retry').hidden = true;
    $('loading-text').textContent = 'Checking your session…';
    checkUser();
  });
  // The stream tells of ends; a tab coming back also re-reads the list.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.view === 'signed-in') loadSessions();
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) {
      $('sign-out').disabled = false;
      checkUser();
    }
  });
  setView('loading');
  checkUser();
}

init();
