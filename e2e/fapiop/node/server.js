// server.js starts oidc-provider for the Go package e2e/fapiop.
//
// It reads one JSON document (the shape is in config.js) on standard input,
// listens on 127.0.0.1, and prints the issuer URL as the first line on
// standard output; Go waits for that line. When the document asks for mTLS,
// a second listener (HTTPS, asking for client certificates) serves the same
// provider and discovery names it in mtls_endpoint_aliases (RFC 8705,
// section 5), so the ordinary endpoints never ask a browser for a
// certificate. The process ends when standard input closes after the
// document or on SIGTERM, so a Go test that dies leaves no provider behind.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { promisify } from 'node:util';

// The provider's RSA signing key is made on the thread pool while the main
// thread loads oidc-provider: each takes a good part of the start-up time.
const signingKey = promisify(crypto.generateKeyPair)('rsa', { modulusLength: 2048 });
const [
  { default: Provider },
  { buildConfiguration },
  { handleInteraction },
  { registerTokenExchange },
] = await Promise.all([
  import('oidc-provider'),
  import('./config.js'),
  import('./interactions.js'),
  import('./token_exchange.js'),
]);

// readDocument reads the first line of stdin; the rest of stdin is the
// parent's lifeline (see main).
function readDocument() {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      process.stdin.off('data', onData);
      process.stdin.pause();
      try {
        resolve(JSON.parse(text.slice(0, nl)));
      } catch (err) {
        reject(err);
      }
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', onData);
    process.stdin.once('end', () => reject(new Error('stdin ended before the configuration line')));
  });
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

// route sends the interaction pages to our handler and the rest to the
// provider.
function route(provider, doc, app) {
  return (req, res) => {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(pathname);
    if (!m) {
      app(req, res);
      return;
    }
    handleInteraction(provider, doc, req, res, { uid: m[1], login: !!m[2] }).catch((err) => {
      process.stderr.write(`fapiop: interaction: ${err?.stack || err}\n`);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      }
      res.end(`interaction failed: ${err?.name || 'error'}\n`);
    });
  };
}

async function main() {
  const doc = await readDocument();
  const tlsOptions = doc.serverCert ? { cert: doc.serverCert, key: doc.serverKey } : undefined;

  // Listen first: the issuer must name the port, and port 0 means "any".
  const main = doc.tls ? https.createServer(tlsOptions) : http.createServer();
  const port = await listen(main, doc.port || 0);
  const issuer = `${doc.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  let mtlsOrigin;
  let mtlsServer;
  if (doc.mtls) {
    mtlsServer = https.createServer({
      ...tlsOptions,
      ca: doc.mtls.clientCA || undefined,
      requestCert: true,
      // Unverified certificates must still reach the provider: self-signed
      // client certificates are checked against the client's registered
      // keys, tls_client_auth ones by certificateAuthorized.
      rejectUnauthorized: false,
    });
    mtlsOrigin = `https://127.0.0.1:${await listen(mtlsServer, doc.mtls.port || 0)}`;
  }

  const configuration = buildConfiguration(doc, { mtlsOrigin, key: (await signingKey).privateKey });
  const provider = new Provider(issuer, configuration);
  if (doc.tokenExchange) {
    registerTokenExchange(provider, doc, configuration);
  }
  // Failures the provider only reports as events go to the log that Go
  // shows when a test fails.
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`fapiop: server_error: ${err?.stack || err}\n`);
  });
  provider.on('backchannel.error', (ctx, err, client) => {
    process.stderr.write(`fapiop: back-channel logout to ${client.clientId}: ${err?.cause || err}\n`);
  });
  // Refusals too, with the detail the client is not told.
  for (const event of ['grant.error', 'authorization.error', 'pushed_authorization_request.error',
    'introspection.error', 'revocation.error']) {
    provider.on(event, (ctx, err) => {
      process.stderr.write(`fapiop: ${event}: ${err?.error || err}: ${err?.error_detail || err?.error_description || ''}\n`);
    });
  }

  const handler = route(provider, doc, provider.callback());
  main.on('request', handler);
  mtlsServer?.on('request', handler);

  process.stdout.write(`${issuer}\n`);

  const stop = () => {
    main.close();
    mtlsServer?.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent keeps stdin open while it wants the provider: its end
  // (the test process gone, even by SIGKILL) ends us too.
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

main().catch((err) => {
  process.stderr.write(`fapiop: ${err?.stack || err}\n`);
  process.exit(1);
});
