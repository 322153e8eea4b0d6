// End to end from another gRPC stack: Node's @grpc/grpc-js loads the .proto files, calls a real
// roster-server, decodes google.rpc error details, and verifies session tokens with jose against
// FrontendUsers.GetJwks. Run by ctest (label e2e) through run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startRosterServer } from './roster_server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const protoRoot = join(here, '..', '..', '..', 'proto');
let running;
let address;
let secretKey;
let backend;
let frontend;

const loaded = protoLoader.loadSync(
  ['roster/v1/backend_users.proto', 'roster/v1/frontend_users.proto'],
  { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: false,
    oneofs: true });
const roster = grpc.loadPackageDefinition(loaded).roster.v1;
const errors = protobuf.loadSync([join(protoRoot, 'google/rpc/status.proto'),
                                  join(protoRoot, 'google/rpc/error_details.proto')]);

function call(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 30000 },
                   (error, response) => (error ? reject(error) : resolve(response)));
  });
}

function withKey() {
  const metadata = new grpc.Metadata();
  metadata.add('authorization', `Bearer ${secretKey}`);
  return metadata;
}

function withToken(token) {
  const metadata = new grpc.Metadata();
  metadata.add('authorization', `Bearer ${token}`);
  return metadata;
}

// RFC 6238 in a dozen lines of Node (HMAC-SHA1, 6 digits, 30 s): the authenticator app's side,
// written apart from the server's C++.
function totp(base32Secret, unixSeconds) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

before(async () => {
  running = await startRosterServer();
  address = `127.0.0.1:${running.port}`;
  secretKey = running.secretKey;
  backend = new roster.BackendUsers(address, grpc.credentials.createInsecure());
  frontend = new roster.FrontendUsers(address, grpc.credentials.createInsecure());
});

after(async () => {
  backend?.close();
  frontend?.close();
  await running?.stop();
});

test('create, fetch and merge metadata through grpc-js', async () => {
  const user = await call(backend, 'CreateUser', {
    email_addresses: ['Node@Example.com'], first_name: 'Node',
    // protobufjs's bundled well-known types keep camelCase names (stringValue) even with
    // keepCase, unlike our own messages.
    public_metadata: { fields: { plan: { stringValue: 'free' } } } }, withKey());
  assert.match(user.id, /^user_[0-9A-Za-z]{27}$/);
  assert.equal(user.public_metadata.fields.plan.stringValue, 'free');
  assert.equal(user.email_addresses[0].email_address, 'node@example.com');
  const merged = await call(backend, 'UpdateUserMetadata', {
    user_id: user.id,
    public_metadata: { fields: { plan: { nullValue: 'NULL_VALUE' },
                                 seats: { numberValue: 3 } } } }, withKey());
  assert.deepEqual(Object.keys(merged.public_metadata.fields), ['seats']);
  assert.equal(merged.public_metadata.fields.seats.numberValue, 3);
  assert.notEqual(merged.etag, user.etag);
  const fetched = await call(backend, 'GetUser', { user_id: user.id }, withKey());
  assert.equal(fetched.etag, merged.etag);
});

test('errors carry google.rpc details that another stack decodes', async () => {
  const failure = await call(backend, 'CreateUser',
                             { email_addresses: ['not-an-email'], username: 'no' }, withKey())
    .then(() => null, (error) => error);
  assert.ok(failure, 'the call must fail');
  assert.equal(failure.code, grpc.status.INVALID_ARGUMENT);
  const [bytes] = failure.metadata.get('grpc-status-details-bin');
  const status = errors.lookupType('google.rpc.Status').decode(bytes);
  // protobufjs camelCases our messages' fields (fieldViolations); its bundled Any keeps type_url.
  const decoded = status.details.map((any) => {
    const type = errors.lookupType(any.type_url.split('/').pop());
    return type.toObject(type.decode(any.value));
  });
  assert.equal(decoded[0].reason, 'USERNAME_INVALID');
  assert.equal(decoded[0].domain, 'roster');
  assert.deepEqual(decoded[1].fieldViolations.map((v) => v.field),
                   ['username', 'email_addresses[0]']);
  const unauthenticated = await call(backend, 'CountUsers', {}).then(() => null, (e) => e);
  assert.equal(unauthenticated.code, grpc.status.UNAUTHENTICATED);
});

test('session tokens verify with jose against GetJwks', async () => {
  const password = 'correct horse battery';
  const user = await call(backend, 'CreateUser',
                          { email_addresses: ['jose@example.com'], password }, withKey());
  const signedIn = await call(frontend, 'SignIn',
                              { identifier: 'jose@example.com', password });
  const jwks = await call(frontend, 'GetJwks', {});
  const { payload, protectedHeader } = await jwtVerify(
    signedIn.session_token, createLocalJWKSet({ keys: jwks.keys }),
    { issuer: 'roster', algorithms: ['EdDSA'] });
  assert.equal(protectedHeader.alg, 'EdDSA');
  assert.equal(payload.sub, user.id);
  assert.equal(payload.sid, signedIn.session.id);
  assert.ok(payload.exp - payload.iat <= 300);
  const me = await call(frontend, 'GetMe', {}, withToken(signedIn.session_token));
  assert.equal(me.id, user.id);
  assert.equal(me.private_metadata, undefined);
  await call(frontend, 'SignOut', {}, withToken(signedIn.session_token));
  const revoked = await call(frontend, 'GetMe', {}, withToken(signedIn.session_token))
    .then(() => null, (e) => e);
  assert.equal(revoked.code, grpc.status.UNAUTHENTICATED);
});

test('a profile image uploaded through grpc-js comes back over HTTP', async () => {
  const user = await call(backend, 'CreateUser', { email_addresses: ['pic@example.com'] },
                          withKey());
  // A 1x1 GIF.
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  const updated = await call(backend, 'SetProfileImage', { user_id: user.id, image: gif },
                             withKey());
  assert.equal(updated.has_image, true);
  assert.match(updated.image_url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/images\/img_[0-9A-Za-z]{27}$/);
  const response = await fetch(updated.image_url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/gif');
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), gif);
  const again = await fetch(updated.image_url,
                            { headers: { 'if-none-match': response.headers.get('etag') } });
  assert.equal(again.status, 304);
});

test('a sign-up verified by code, a sign-in in steps, then a second factor, through grpc-js', async () => {
  const created = await call(frontend, 'CreateSignUp',
                             { email_address: 'stepper@example.com',
                               password: 'correct horse battery' });
  assert.equal(created.sign_up.status, 'STATUS_MISSING_REQUIREMENTS');
  assert.deepEqual(created.sign_up.unverified_fields, ['email_address']);
  const id = created.sign_up.id;
  await call(frontend, 'PrepareSignUpVerification', { sign_up_id: id, strategy: 'email_code' });
  // The mail service's view: the newest email.created event for this sign-up.
  const listed = await call(backend, 'ListEvents',
                            { types: ['email.created'], limit: 500 }, withKey());
  const mail = listed.events.map((e) => e.email).filter((m) => m && m.sign_up_id === id);
  assert.equal(mail.length, 1);
  assert.equal(mail[0].purpose, 'sign_up');
  const done = await call(frontend, 'AttemptSignUpVerification',
                          { sign_up_id: id, strategy: 'email_code', code: mail[0].code });
  assert.equal(done.sign_up.status, 'STATUS_COMPLETE');
  assert.equal(done.user.id, done.sign_up.created_user_id);
  assert.ok(done.session_token);

  const attempt = await call(frontend, 'StartSignIn', { identifier: 'stepper@example.com' });
  assert.equal(attempt.status, 'STATUS_NEEDS_FIRST_FACTOR');
  assert.deepEqual(attempt.supported_first_factors,
                   ['password', 'email_code', 'reset_password_email_code']);
  const wrong = await call(frontend, 'AttemptSignInFactor',
                           { sign_in_attempt_id: attempt.id, strategy: 'password',
                             password: 'not the password' }).then(() => null, (e) => e);
  assert.equal(wrong.code, grpc.status.UNAUTHENTICATED);
  const signedIn = await call(frontend, 'AttemptSignInFactor',
                              { sign_in_attempt_id: attempt.id, strategy: 'password',
                                password: 'correct horse battery' });
  assert.equal(signedIn.status, 'STATUS_COMPLETE');
  const me = await call(frontend, 'GetMe', {}, withToken(signedIn.session_token));
  assert.equal(me.id, done.user.id);

  // A second factor: enrol an app (make run's --dev made the data keys), then sign in again.
  const token = signedIn.session_token;
  const app = await call(frontend, 'CreateMyTotp', {}, withToken(token));
  assert.match(app.uri, /^otpauth:\/\/totp\/Roster:stepper%40example\.com\?secret=/);
  const now = Date.now() / 1000;
  const verified = await call(frontend, 'VerifyMyTotp', { code: totp(app.secret, now) },
                              withToken(token));
  assert.equal(verified.verified, true);
  const first = await call(frontend, 'SignIn', { identifier: 'stepper@example.com',
                                                 password: 'correct horse battery' });
  assert.equal(first.status, 'STATUS_NEEDS_SECOND_FACTOR');
  assert.ok(!first.session_token);
  assert.deepEqual(first.sign_in_attempt.supported_second_factors, ['totp']);
  const replayed = await call(frontend, 'AttemptSignInFactor',
                              { sign_in_attempt_id: first.sign_in_attempt.id, strategy: 'totp',
                                code: totp(app.secret, now) }).then(() => null, (e) => e);
  assert.equal(replayed.code, grpc.status.INVALID_ARGUMENT);
  const second = await call(frontend, 'AttemptSignInFactor',
                            { sign_in_attempt_id: first.sign_in_attempt.id, strategy: 'totp',
                              code: totp(app.secret, now + 30) });
  assert.equal(second.status, 'STATUS_COMPLETE');
  assert.equal(second.user.two_factor_enabled, true);
  assert.ok(second.session_token);
});
