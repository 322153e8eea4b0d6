// The portal suite's shared parts: one Chromium, one roster-server (--dev, loopback) with a
// real OpenID provider, an app page and a picture host, started once for every part of the
// suite (portal.test.mjs), and the helpers its tests drive them with. The servers' handles are
// live bindings: read them in a test, after startPortal has run.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startRosterServer } from './roster_server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.PORTAL_SCREENSHOTS || join(process.cwd(), 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// A 2x2 PNG.
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
export const XSS_NAME = '<img src=x onerror=alert(1)>';

export let roster;
export let origin;
let provider;
export let providerPort;
export let providersFile;
export let secondHttpPort;
// A provider's picture host (https, a certificate of its own that Chromium is told to trust).
export let pictures;
export const pictureRequests = [];
export let browser;
let app;
export const appVisits = [];
export const dialogs = [];

// BackendUsers or FrontendUsers over Connect JSON, as another service would call them.
export async function connect(service, method, body, token) {
  const response = await fetch(`${origin}/roster.v1.${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw Object.assign(new Error(answer.message), { code: answer.code });
  return answer;
}
export const backend = (method, body) => connect('BackendUsers', method, body, roster.secretKey);
// The same on another server of this run.
export async function backendOf(server, method, body) {
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/roster.v1.BackendUsers/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.secretKey}` },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${method}: ${response.status}`);
  return response.json();
}

// The emails sent to `address` for `purpose`, oldest first, as the mail service sees them.
export async function mailsTo(address, purpose) {
  const { events } = await backend('ListEvents', { types: ['email.created'], limit: 500 });
  return events.map((e) => e.email).filter((m) => m && m.emailAddress === address && m.purpose === purpose);
}

// The newest code mailed to `address` for `purpose`.
export async function mailedCode(address, purpose) {
  const mail = await mailsTo(address, purpose);
  assert.ok(mail.length > 0, `a ${purpose} email to ${address}`);
  return mail[mail.length - 1].code;
}

// The newest code texted to `phone` for `purpose`, as the SMS service sees it.
export async function textedCode(phone, purpose) {
  const { events } = await backend('ListEvents', { types: ['sms.created'], limit: 500 });
  const sms = events.map((e) => e.sms).filter((m) => m && m.phoneNumber === phone && m.purpose === purpose);
  assert.ok(sms.length > 0, `a ${purpose} text to ${phone}`);
  return sms[sms.length - 1].code;
}

// The FrontendUsers methods `page` calls while `work` runs.
export async function callsDuring(page, work) {
  const methods = [];
  const record = (request) => {
    const match = request.url().match(/\/roster\.v1\.FrontendUsers\/(\w+)$/);
    if (match) methods.push(match[1]);
  };
  page.on('request', record);
  try {
    await work();
  } finally {
    page.off('request', record);
  }
  return methods;
}

export const totp = (secret, offset = '') =>
  execFileSync('oathtool', ['--totp', '-b', ...(offset ? ['-N', offset] : []), secret], { encoding: 'utf8' }).trim();

// A port nothing listens on now, from below the kernel's ephemeral range so that no listener
// binding port 0 meanwhile (this run's or a parallel test's) is handed the same one.
async function freePort() {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  for (let attempt = 0; attempt < 64; attempt++) {
    const port = low - 1 - Math.floor(Math.random() * 8192);
    const probe = createTcpServer();
    const free = await new Promise((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range');
}

// The social sign-in tests' OpenID provider (tests/oauth/provider, installed beside this file
// by run.sh) for Roster's callback at `callback`; resolves to its issuer.
async function startProvider(callback) {
  const port = await freePort();
  providerPort = port;
  const secretFile = join(process.cwd(), 'provider-secret');
  writeFileSync(secretFile, 'provider-client-secret\n');
  provider = spawn('node', ['provider/provider.mjs', `--port=${port}`, `--redirect-uri=${callback}`,
                            `--client-secret-file=${secretFile}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    provider.stdout.on('data', (chunk) => { if (String(chunk).includes('listening')) resolve(); });
    provider.on('exit', (code) => reject(new Error(`the OpenID provider exited ${code}`)));
  });
  const providers = join(process.cwd(), 'providers.json');
  writeFileSync(providers, JSON.stringify([{ provider: 'oauth_custom_corp', client_id: 'roster',
                                             client_secret_file: secretFile,
                                             issuer: `http://127.0.0.1:${port}` }]));
  return providers;
}

// An https server for social users' pictures, as a provider's CDN; resolves to the SPKI hash
// of its certificate, for Chromium to trust that one certificate alone.
async function startPictureHost() {
  const key = join(process.cwd(), 'pictures-key.pem');
  const cert = join(process.cwd(), 'pictures-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                           '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
                           '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
               { stdio: 'ignore' });
  const spki = execFileSync('sh', ['-c', `openssl x509 -in '${cert}' -pubkey -noout | `
                                   + 'openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64'],
                            { encoding: 'utf8' }).trim();
  pictures = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (request, response) => {
    pictureRequests.push({ url: request.url, referer: request.headers.referer });
    if (request.url.startsWith('/gone')) {
      response.statusCode = 404;
      response.end();
      return;
    }
    response.setHeader('content-type', 'image/png');
    response.end(PNG);
  });
  await new Promise((resolve) => pictures.listen(0, '127.0.0.1', resolve));
  return spki;
}

// A page in a context of its own: no test sees another's cookies.
export async function newPage() {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30000);  // ctest runs other suites beside this one.
  await page.setViewport({ width: 390, height: 844 });  // A phone.
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on('pageerror', (error) => dialogs.push(`page error: ${error.message}`));
  return page;
}

// axe-core in the page (evaluated through DevTools, which the page's CSP does not govern).
export async function checkAccessibility(page, name) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => globalThis.axe.run());
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), [],
                   `axe on ${name}`);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Waits for `selector` to show; on failure, says what the page's alert said.
export async function visible(page, selector) {
  try {
    await page.waitForSelector(selector, { visible: true });
  } catch (error) {
    const alert = await page.$eval('#alert', (e) => (e.hidden ? '' : e.textContent)).catch(() => '');
    throw new Error(`${selector} did not show on ${page.url()}; alert: ${alert}`, { cause: error });
  }
}

// Tabs through the whole page: every visible control must take the focus on the way, so every
// flow can be done by keyboard (the controls are native buttons, inputs and links, which Enter and
// Space work).
export async function assertReachableByTab(page, name) {
  const controls = await page.$$eval('a[href], button, input, select, textarea', (all) => all
    .filter((e) => e.offsetParent !== null && !e.disabled)
    .map((e) => e.outerHTML.slice(0, 80)));
  await page.evaluate(() => document.activeElement?.blur());
  const reached = new Set();
  for (let i = 0; i < controls.length * 2 + 5; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80));
    if (focused) reached.add(focused);
  }
  assert.deepEqual(controls.filter((c) => !reached.has(c)), [], `${name}: controls Tab never reached`);
}

export async function typeInto(page, selector, text) {
  await page.click(selector, { count: 3 });
  await page.type(selector, text);
}

export async function focusedId(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

// Starts everything the suite drives; portal.test.mjs runs it before the first test.
export async function startPortal() {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (scripts/bootstrap.sh installs it)`);
  const pictureSpki = await startPictureHost();
  const httpPort = await freePort();
  // A second server, started by the test that needs it, shares the provider.
  secondHttpPort = await freePort();
  providersFile = await startProvider([httpPort, secondHttpPort]
    .map((port) => `http://127.0.0.1:${port}/v1/oauth/callback`).join(','));
  const providers = providersFile;
  app = createServer((request, response) => {
    const url = new URL(request.url, 'http://app');
    appVisits.push(url);
    response.setHeader('content-type', 'text/html');
    // The app's own page, with the portal's user button in its header; /app/strict's CSP lets
    // images come from the app's own origin only.
    if (url.pathname === '/app/strict') response.setHeader('content-security-policy', "img-src 'self'");
    const button = ['/app/home', '/app/strict'].includes(url.pathname)
      ? `<header><script src="${origin}/portal/user-button.js" defer></script>
         <roster-user-button></roster-user-button></header>` : '';
    response.end(`<!doctype html><html lang="en"><title>App</title>${button}<main><h1>The app</h1></main></html>`);
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appOrigin = `http://127.0.0.1:${app.address().port}`;
  roster = await startRosterServer([`--http_listen=127.0.0.1:${httpPort}`, `--oauth_providers_file=${providers}`,
                                    '--http_backend', `--allowed_redirect_urls=${appOrigin}/app`,
                                    // Every sign-up, social ones too, accepts the terms.
                                    '--sign_up_required=email_address,password,legal_accepted',
                                    `--allowed_origins=${appOrigin}`,
                                    '--portal_app_name=Acme & Co', '--portal_accent_color=#0f766e']);
  origin = `http://127.0.0.1:${roster.httpPort}`;
  roster.appOrigin = appOrigin;
  mkdirSync(SHOTS, { recursive: true });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           `--ignore-certificate-errors-spki-list=${pictureSpki}`],
  });
}

export async function stopPortal() {
  await browser?.close();
  await roster?.stop();
  provider?.kill();
  app?.close();
  pictures?.close();
}
