// A real roster-server for the Node e2e tests: started --dev on ephemeral ports in a temporary
// folder, its ports read from its "serving" log line, and drained with SIGTERM at the end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Starts ROSTER_SERVER_BINARY with `extraArgs`; resolves to { port, httpPort, secretKey, stop }.
export async function startRosterServer(extraArgs = []) {
  const binary = process.env.ROSTER_SERVER_BINARY;
  assert.ok(binary, 'ROSTER_SERVER_BINARY must name the server binary');
  const workdir = mkdtempSync(join(tmpdir(), 'roster-e2e-'));
  const db = join(workdir, 'dev.db');
  const server = spawn(binary, ['--dev', `--db=${db}`, '--listen=127.0.0.1:0', ...extraArgs],
                       { stdio: ['ignore', 'ignore', 'pipe'] });
  const [port, httpPort] = await new Promise((resolve, reject) => {
    let log = '';
    server.stderr.on('data', (chunk) => {
      log += chunk;
      const match = log.match(/"msg":"serving".*"port":(\d+),"http_port":(\d+)/);
      if (match) resolve([match[1], match[2]]);
    });
    server.on('exit', (code) => reject(new Error(`roster-server exited ${code}: ${log}`)));
  });
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.on('exit', resolve));
      server.kill('SIGTERM');
      assert.equal(await exited, 0, 'roster-server drains and exits 0 on SIGTERM');
    }
    rmSync(workdir, { recursive: true, force: true });
  };
  return { port, httpPort, secretKey: readFileSync(`${db}.secret_key`, 'utf8').trim(), stop };
}
