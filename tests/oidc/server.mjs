// A real OpenID Connect provider (panva/oidc-provider) for the portal's SSO tests.
//
// Usage: node tests/oidc/server.mjs CONFIG.json
// The JSON file lists the issuers to run, each on its own loopback port (chosen by the OS), with the clients and
// accounts a partner would configure. When every issuer listens, one line of JSON goes to stdout:
//   {"ready": true, "issuers": {"politie": "http://127.0.0.1:40123", ...}}
// Sign-in uses oidc-provider's development interactions (a login form accepting any password, then a consent
// form), so a test can drive the whole authorization-code flow over plain HTTP.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function start(spec) {
  const server = http.createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = spec.accounts || {};
  const provider = new Provider(issuer, {
    clients: spec.clients,
    jwks: { keys: [signingKey(`${spec.slug}-key-1`)] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Portal claims (roles, organisation code) travel in the ID token, as Entra ID app roles and Keycloak
    // "add to ID token" mappers do.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'roles', 'org'],
      email: ['email', 'email_verified'],
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection); the back-channel
    // logout catcher of the tests listens on loopback, so this test provider sends without that check.
    fetch(url, options) {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    async findAccount(ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...account };
        },
      };
    },
  });
  provider.on('backchannel.error', (ctx, error, client) => {
    process.stderr.write(`backchannel logout to ${client.clientId} failed: ${error.message} ${error.cause ?? ""}\n`);
  });
  server.on('request', provider.callback());
  return [spec.slug, issuer];
}

const issuers = Object.fromEntries(await Promise.all(config.providers.map(start)));
process.stdout.write(`${JSON.stringify({ ready: true, issuers })}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
