// Browsers' protocols from independent clients (DESIGN §12): connectrpc's own Node and web
// (fetch) transports call a real roster-server's HTTP listener over Connect (JSON and binary) and
// gRPC-Web, with services and error details taken from a descriptor set of our .proto files (no
// generated code). Run by ctest (label e2e) through run.sh, which makes roster.binpb with protoc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import * as node from '@connectrpc/connect-node';
import * as web from '@connectrpc/connect-web';
import { startRosterServer } from './roster_server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(join(here, 'roster.binpb'))));
const FrontendUsers = registry.getService('roster.v1.FrontendUsers');
const BackendUsers = registry.getService('roster.v1.BackendUsers');
const ErrorInfo = registry.getMessage('google.rpc.ErrorInfo');
const BadRequest = registry.getMessage('google.rpc.BadRequest');
const password = 'correct horse battery';
let running;
let baseUrl;
let secretKey;

// Every transport a browser or Node app would pick.
const transports = () => ({
  'connect-node Connect JSON': node.createConnectTransport({ baseUrl, httpVersion: '1.1' }),
  'connect-node Connect binary': node.createConnectTransport(
    { baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
  'connect-node gRPC-Web': node.createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }),
  'connect-web Connect JSON': web.createConnectTransport({ baseUrl }),
  'connect-web gRPC-Web': web.createGrpcWebTransport({ baseUrl }),
});

before(async () => {
  running = await startRosterServer(['--http_backend']);
  baseUrl = `http://127.0.0.1:${running.httpPort}`;
  secretKey = running.secretKey;
});

after(async () => running?.stop());

test('each transport signs in and reads the user it signed in', async () => {
  let n = 0;
  for (const [name, transport] of Object.entries(transports())) {
    n += 1;
    const backend = createClient(BackendUsers, transport);
    const frontend = createClient(FrontendUsers, transport);
    const user = await backend.createUser(
      { emailAddresses: [`connect${n}@example.com`], firstName: `Connect ${n}`, password },
      { headers: { authorization: `Bearer ${secretKey}` } });
    assert.match(user.id, /^user_/, name);
    const signedIn = await frontend.signIn({ identifier: `connect${n}@example.com`, password });
    assert.ok(signedIn.sessionToken, name);
    const me = await frontend.getMe({},
                                    { headers: { authorization: `Bearer ${signedIn.sessionToken}` } });
    assert.equal(me.id, user.id, name);
    assert.equal(me.firstName, `Connect ${n}`, name);
    assert.equal(me.emailAddresses[0].emailAddress, `connect${n}@example.com`, name);
  }
});

test('errors arrive with their code, ErrorInfo and BadRequest on every transport', async () => {
  for (const [name, transport] of Object.entries(transports())) {
    const frontend = createClient(FrontendUsers, transport);
    const unauthenticated = await frontend.getMe({}).then(() => null, (e) => e);
    assert.ok(unauthenticated instanceof ConnectError, name);
    assert.equal(unauthenticated.code, Code.Unauthenticated, name);
    assert.equal(unauthenticated.findDetails(ErrorInfo)[0]?.reason, 'UNAUTHENTICATED', name);

    const backend = createClient(BackendUsers, transport);
    const invalid = await backend.createUser(
      { emailAddresses: ['not-an-email'], username: 'no' },
      { headers: { authorization: `Bearer ${secretKey}` } }).then(() => null, (e) => e);
    assert.equal(invalid?.code, Code.InvalidArgument, name);
    assert.equal(invalid.findDetails(ErrorInfo)[0]?.reason, 'USERNAME_INVALID', name);
    assert.deepEqual(invalid.findDetails(BadRequest)[0]?.fieldViolations.map((v) => v.field),
                     ['username', 'email_addresses[0]'], name);
  }
});

// Streams over HTTP are few at once (4): one that was just left holds its slot until the server
// notices (within 200 ms), and a stream refused meanwhile is Unavailable. Retry at once until then.
async function whenAStreamIsFree(call) {
  for (const giveUp = Date.now() + 10000; ;) {
    const error = await call().then(() => null, (e) => e);
    if (error?.code !== Code.Unavailable || Date.now() > giveUp) return error;
  }
}

test('WatchEvents streams over every transport; leaving ends the stream', async () => {
  const created = await createClient(BackendUsers, transports()['connect-node Connect JSON']).createUser(
    { emailAddresses: ['streamed@example.com'] }, { headers: { authorization: `Bearer ${secretKey}` } });
  for (const [name, transport] of Object.entries(transports())) {
    const backend = createClient(BackendUsers, transport);
    const seen = [];
    // The stream never ends by itself: take events up to the one created above, then leave.
    const failed = await whenAStreamIsFree(async () => {
      for await (const event of backend.watchEvents({ types: ['user.created'] },
                                                    { headers: { authorization: `Bearer ${secretKey}` } })) {
        seen.push(event.userId);
        if (event.userId === created.id) break;
      }
    });
    assert.equal(failed, null, name);
    assert.equal(seen.at(-1), created.id, name);
    // Without the key: the error in the stream's own format.
    const refused = await whenAStreamIsFree(async () => {
      for await (const event of backend.watchEvents({})) assert.fail(`${name}: ${event.type}`);
    });
    assert.equal(refused?.code, Code.Unauthenticated, name);
  }
});
