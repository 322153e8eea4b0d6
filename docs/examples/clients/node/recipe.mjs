// Roster from a Node service: BackendUsers with the secret key, error details, and session
// tokens checked offline with jose against the keys from GetJwks.
//
//   npm install @grpc/grpc-js @grpc/proto-loader protobufjs jose
//   ROSTER_PROTO_DIR=proto ROSTER_ADDR=localhost:50051 ROSTER_SECRET_KEY=sk_... node recipe.mjs EMAIL
//
// It creates a user, shows two decoded errors, opens a session and verifies its token, then
// verifies each token read from stdin, one per line ("valid SUB SID" or "refused WHY").
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as jose from 'jose';
import protobuf from 'protobufjs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const protoDir = process.env.ROSTER_PROTO_DIR;
const loaded = protoLoader.loadSync(
  ['roster/v1/backend_users.proto', 'roster/v1/frontend_users.proto'],
  { includeDirs: [protoDir], keepCase: true, longs: String, enums: String, oneofs: true });
const roster = grpc.loadPackageDefinition(loaded).roster.v1;
const details = new protobuf.Root();
details.resolvePath = (_origin, target) => `${protoDir}/${target}`;
details.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
details.resolveAll();

// The code, the ErrorInfo reason and the BadRequest fields of a failed call.
function errorDetails(error) {
  const [bytes] = error.metadata?.get('grpc-status-details-bin') ?? [];
  const status = bytes ? details.lookupType('google.rpc.Status').decode(bytes) : { details: [] };
  let reason = '';
  let fields = [];
  for (const any of status.details) {
    const type = details.lookupType(any.type_url.split('/').pop());
    const detail = type.decode(any.value);
    if (type.fullName === '.google.rpc.ErrorInfo') reason = detail.reason;
    if (type.fullName === '.google.rpc.BadRequest') {
      fields = detail.field_violations.map((violation) => violation.field);
    }
  }
  return [grpc.status[error.code], reason, ...fields];
}

// Verifies session tokens offline. The keys are fetched once, cached, and fetched again when
// a token names an unknown kid (a key rotation), at most once per refetchSeconds.
class SessionVerifier {
  constructor(address, { issuer = 'roster', leewaySeconds = 5, refetchSeconds = 30 } = {}) {
    const stub = new roster.FrontendUsers(address, grpc.credentials.createInsecure());
    this.getJwks = promisify(stub.GetJwks.bind(stub));
    this.options = { issuer, leewaySeconds, refetchSeconds };
    this.keys = null;
    this.fetchedAt = 0;
  }

  async fetch() {
    const deadline = new Date(Date.now() + 5000);
    const jwks = await this.getJwks({}, { deadline, waitForReady: true });
    const keys = jwks.keys.filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519');
    this.keys = jose.createLocalJWKSet({ keys: keys.map(({ kty, crv, x, kid, alg }) => ({ kty, crv, x, kid, alg })) });
    this.fetchedAt = Date.now();
    console.log(`jwks fetched ${keys.length}`);
  }

  async verify(token) {
    if (this.keys === null) await this.fetch();
    const options = {
      algorithms: ['EdDSA'],
      issuer: this.options.issuer,
      clockTolerance: this.options.leewaySeconds,
      requiredClaims: ['exp', 'nbf', 'iat', 'sub', 'sid'],
    };
    try {
      return (await jose.jwtVerify(token, this.keys, options)).payload;
    } catch (error) {
      const stale = Date.now() - this.fetchedAt >= this.options.refetchSeconds * 1000;
      if (error.code !== 'ERR_JWKS_NO_MATCHING_KEY' || !stale) throw error;
      await this.fetch();  // A kid the cache lacks: the keys may have been rotated.
      return (await jose.jwtVerify(token, this.keys, options)).payload;
    }
  }
}

const address = process.env.ROSTER_ADDR;
const backend = new roster.BackendUsers(address, grpc.credentials.createInsecure());
const auth = new grpc.Metadata();
auth.set('authorization', `Bearer ${process.env.ROSTER_SECRET_KEY}`);
const call = (method, request) => promisify(backend[method].bind(backend))(request, auth);

const user = await call('CreateUser', { email_addresses: [process.argv[2]] });
console.log('created', user.id);
for (const email of [process.argv[2], 'not-an-email']) {
  try {
    await call('CreateUser', { email_addresses: [email] });
  } catch (error) {
    console.log('error', ...errorDetails(error));
  }
}
const created = await call('CreateSession', { user_id: user.id });
const verifier = new SessionVerifier(address, {
  issuer: process.env.ROSTER_ISSUER ?? 'roster',
  refetchSeconds: Number(process.env.ROSTER_JWKS_REFETCH_SECONDS ?? 30),
});
async function check(token) {
  try {
    const claims = await verifier.verify(token);
    console.log('valid', claims.sub, claims.sid);
  } catch (error) {
    console.log('refused', error.code ?? error.name);
  }
}
await check(created.session_token);
for await (const line of createInterface({ input: process.stdin })) await check(line.trim());
backend.close();
process.exit(0);
