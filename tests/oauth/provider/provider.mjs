// A real OpenID Connect provider on loopback for Roster's social sign-in tests:
// oidc-provider (the certified Node implementation) with one client registered
// for Roster, its development login and consent pages, and a "browser" that
// signs a user in through those pages the way a person would, over HTTP.
//
//   node provider.mjs --port=P --redirect-uri=URI[,URI…] --client-secret-file=F
//                     [--alg=RS256|ES256|EdDSA] [--listen-fd=N]
//
// With --listen-fd it listens on that inherited socket, which the caller bound
// to port P, rather than binding P itself: nothing can take P in between.
//
// Prints `listening <issuer>` once it serves. Besides the provider's own
// endpoints it answers:
//   POST /test/browse {url, login, stop_prefix}: follows `url` (an authorization
//     URL from StartOAuth) through login (as `login`) and consent, then through
//     every redirect until one starts with `stop_prefix`; answers
//     {location, visited} where `visited` lists each URL requested.
//   POST /test/accounts {login, email, email_verified, given_name, family_name}:
//     sets what the provider says about the account `login`.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)),
);
const port = Number(args.port);
const issuer = `http://127.0.0.1:${port}`;
const alg = args.alg ?? 'RS256';
const clientSecret = readFileSync(args['client-secret-file'], 'utf8').trim();

function signingKey() {
  if (alg === 'ES256') {
    return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  }
  if (alg === 'EdDSA') {
    return generateKeyPairSync('ed25519').privateKey;
  }
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}
const jwk = { ...signingKey().export({ format: 'jwk' }), kid: `test-${alg}`, use: 'sig' };

const accounts = new Map();
function claimsOf(login) {
  return {
    sub: login,
    email: `${login}@example.com`,
    email_verified: true,
    given_name: 'Test',
    family_name: login,
    ...accounts.get(login),
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'roster',
    client_secret: clientSecret,
    redirect_uris: args['redirect-uri'].split(','),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: alg,
  }],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'picture'],
  },
  // The claims asked for go into the ID token itself, as Google's do.
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => claimsOf(id),
  }),
  // Every client must use PKCE (S256): Roster always does.
  pkce: { required: () => true },
  ttl: {
    AccessToken: 60, IdToken: 300, RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600,
  },
  cookies: { keys: ['roster-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  // Refresh tokens without offline_access too, as GitHub and Microsoft give.
  issueRefreshToken: async () => true,
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

// Cookies by name, as a browser keeps them for one site.
function remember(jar, response) {
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const [name, value] = pair.split(/=(.*)/s);
    jar.set(name.trim(), value);
  }
}
const cookieHeader = (jar) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function browse({ url, login, stop_prefix: stopPrefix }) {
  const jar = new Map();
  const visited = [];
  let next = { url, method: 'GET' };
  for (let step = 0; step < 20; step += 1) {
    visited.push(next.url);
    const onProvider = next.url.startsWith(issuer);
    const response = await fetch(next.url, {
      method: next.method,
      redirect: 'manual',
      headers: {
        ...(onProvider && jar.size ? { cookie: cookieHeader(jar) } : {}),
        ...(next.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: next.body,
    });
    if (onProvider) remember(jar, response);
    const location = response.headers.get('location');
    if (location) {
      const target = new URL(location, next.url).href;
      if (target.startsWith(stopPrefix)) return { location: target, visited };
      next = { url: target, method: 'GET' };
      continue;
    }
    const page = await response.text();
    const form = page.match(/<form[^>]*action="([^"]+)"[^>]*method="post"/);
    const prompt = page.match(/name="prompt" value="(\w+)"/);
    if (response.status !== 200 || !form || !prompt) {
      return { location: '', visited, status: response.status, page: page.slice(0, 2000) };
    }
    const fields = new URLSearchParams({ prompt: prompt[1] });
    if (prompt[1] === 'login') {
      fields.set('login', login);
      fields.set('password', 'any');
    }
    next = { url: new URL(form[1].replaceAll('&amp;', '&'), next.url).href, method: 'POST', body: fields.toString() };
  }
  return { location: '', visited, error: 'too many steps' };
}

async function readJson(request) {
  let text = '';
  for await (const chunk of request) text += chunk;
  return JSON.parse(text);
}

const callback = provider.callback();
http.createServer(async (request, response) => {
  try {
    if (request.method === 'POST' && request.url === '/test/browse') {
      const result = await browse(await readJson(request));
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(result));
      return;
    }
    if (request.method === 'POST' && request.url === '/test/accounts') {
      const { login, ...claims } = await readJson(request);
      accounts.set(login, claims);
      response.end('{}');
      return;
    }
  } catch (error) {
    response.statusCode = 500;
    response.end(String(error));
    return;
  }
  callback(request, response);
}).listen(
  args['listen-fd'] ? { fd: Number(args['listen-fd']) } : { port, host: '127.0.0.1' },
  () => console.log(`listening ${issuer}`),
);
