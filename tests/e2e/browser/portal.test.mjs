// The account portal in a real browser: Debian's Chromium driven by puppeteer-core against a
// real roster-server (--dev, loopback). A user signs up with a code read from the event stream,
// returns to the app with a ticket, manages the account, resets the password, turns on TOTP
// (codes from oathtool, an independent implementation), signs in by keyboard alone with the
// second factor, and deletes the account; a social user sees their provider's picture. axe-core
// checks every page; screenshots go to $PORTAL_SCREENSHOTS for a reviewer.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { startRosterServer } from './roster_server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.PORTAL_SCREENSHOTS || join(process.cwd(), 'screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// A 2x2 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const XSS_NAME = '<img src=x onerror=alert(1)>';

let roster;
let origin;
let provider;
let providerPort;
let providersFile;
let secondHttpPort;
// A provider's picture host (https, a certificate of its own that Chromium is told to trust).
let pictures;
const pictureRequests = [];
let browser;
let app;
const appVisits = [];
const dialogs = [];

// BackendUsers or FrontendUsers over Connect JSON, as another service would call them.
async function connect(service, method, body, token) {
  const response = await fetch(`${origin}/roster.v1.${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw Object.assign(new Error(answer.message), { code: answer.code });
  return answer;
}
const backend = (method, body) => connect('BackendUsers', method, body, roster.secretKey);
// The same on another server of this run.
async function backendOf(server, method, body) {
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/roster.v1.BackendUsers/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.secretKey}` },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${method}: ${response.status}`);
  return response.json();
}

// The emails sent to `address` for `purpose`, oldest first, as the mail service sees them.
async function mailsTo(address, purpose) {
  const { events } = await backend('ListEvents', { types: ['email.created'], limit: 500 });
  return events.map((e) => e.email).filter((m) => m && m.emailAddress === address && m.purpose === purpose);
}

// The newest code mailed to `address` for `purpose`.
async function mailedCode(address, purpose) {
  const mail = await mailsTo(address, purpose);
  assert.ok(mail.length > 0, `a ${purpose} email to ${address}`);
  return mail[mail.length - 1].code;
}

// The newest code texted to `phone` for `purpose`, as the SMS service sees it.
async function textedCode(phone, purpose) {
  const { events } = await backend('ListEvents', { types: ['sms.created'], limit: 500 });
  const sms = events.map((e) => e.sms).filter((m) => m && m.phoneNumber === phone && m.purpose === purpose);
  assert.ok(sms.length > 0, `a ${purpose} text to ${phone}`);
  return sms[sms.length - 1].code;
}

// The FrontendUsers methods `page` calls while `work` runs.
async function callsDuring(page, work) {
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

const totp = (secret, offset = '') =>
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

before(async () => {
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
});

after(async () => {
  await browser?.close();
  await roster?.stop();
  provider?.kill();
  app?.close();
  pictures?.close();
});

// A page in a context of its own: no test sees another's cookies.
async function newPage() {
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
async function checkAccessibility(page, name) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => globalThis.axe.run());
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), [],
                   `axe on ${name}`);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Waits for `selector` to show; on failure, says what the page's alert said.
async function visible(page, selector) {
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
async function assertReachableByTab(page, name) {
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

async function typeInto(page, selector, text) {
  await page.click(selector, { count: 3 });
  await page.type(selector, text);
}

async function focusedId(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

test('each page is under 100 KB on first load, all from the portal origin, with a strict CSP', async () => {
  const weights = {};
  for (const path of ['/sign-in', '/sign-up', '/account']) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    const urls = [];
    let bytes = 0;
    cdp.on('Network.requestWillBeSent', (e) => urls.push(e.request.url));
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
    const response = await page.goto(`${origin}${path}`, { waitUntil: 'networkidle0' });
    const csp = response.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(response.headers()['x-frame-options'], 'DENY');
    for (const url of urls) {
      assert.ok(url.startsWith(`${origin}/`) || url.startsWith('data:'), `${path} requested ${url}`);
    }
    weights[path] = bytes;
    assert.ok(bytes <= 100 * 1024, `${path} transferred ${bytes} bytes`);
    await context.close();
  }
  writeFileSync(join(SHOTS, 'page-weights.json'), JSON.stringify(weights, null, 2));
  console.log('portal first-load bytes', weights);
});

test('sign up, manage the account, reset the password, TOTP, keyboard sign-in, delete', async () => {
  const email = 'ada@example.com';
  const password = 'correct horse battery staple';
  const page = await newPage();

  // Sign up from an app that wants the user back.
  const callback = `${roster.appOrigin}/app/callback`;
  await page.goto(`${origin}/sign-up?redirect_url=${encodeURIComponent(callback)}`);
  assert.equal(await page.$eval('.app', (e) => e.textContent), 'Acme & Co');
  await checkAccessibility(page, 'sign-up');
  await assertReachableByTab(page, 'sign-up');
  await typeInto(page, '#first-name', XSS_NAME);
  await typeInto(page, '#last-name', 'Lovelace');
  await typeInto(page, '#email-address', email);
  await typeInto(page, '#sign-up-password', password);
  // The terms beside the form, left unticked: the next step asks for them.
  assert.equal(await page.$eval('#terms-accepted', (box) => box.checked), false);
  await page.click('#sign-up-form button[type=submit]');
  await visible(page, '#more-form');
  assert.deepEqual(await page.$$eval('[data-more]', (all) => all.filter((d) => !d.hidden).map((d) => d.dataset.more)),
                   ['legal_accepted']);
  await checkAccessibility(page, 'sign-up-terms');
  await page.click('#legal-accepted');
  await page.click('#more-form button[type=submit]');
  await visible(page, '#verify-form');
  await checkAccessibility(page, 'sign-up-verify');
  // A reload on the code step keeps the sign-up, and the code already mailed stays the one to type.
  assert.equal((await mailsTo(email, 'sign_up')).length, 1);
  await page.reload();
  await visible(page, '#verify-form');
  assert.equal(await page.$eval('[data-code-sent]', (e) => e.textContent), `We sent a code to ${email}.`);
  assert.equal(await page.$eval('#email-address', (e) => e.value), email);
  assert.equal((await mailsTo(email, 'sign_up')).length, 1, 'no second code after the reload');
  await typeInto(page, '#sign-up-code', await mailedCode(email, 'sign_up'));
  await Promise.all([page.waitForNavigation(), page.click('#verify-form button[type=submit]')]);

  // Back at the app with a ticket that signs the app in as the new user.
  const visit = appVisits.filter((v) => v.pathname === '/app/callback').at(-1);
  assert.ok(visit, `the app was visited: ${appVisits.map((v) => v.pathname)}`);
  const ticket = visit.searchParams.get('roster_ticket');
  assert.match(ticket, /^sit_/);
  const appSession = await connect('FrontendUsers', 'SignInWithTicket', { ticket });
  assert.equal(appSession.status, 'STATUS_COMPLETE');
  assert.equal(appSession.user.firstName, XSS_NAME);
  const userId = appSession.user.id;

  // The portal's own session is a cookie the page's script cannot read.
  const cookies = await page.cookies(`${origin}/portal/`);
  const session = cookies.find((c) => c.name === 'roster_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Lax', JSON.stringify(cookies));
  await page.goto(`${origin}/account`);
  assert.equal(await page.evaluate(() => document.cookie.includes('roster_session')), false);
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);

  // The hostile name is shown as text: no image element, no script ran.
  await visible(page, '#account');
  assert.equal(await page.$eval('#first-name', (e) => e.value), XSS_NAME);
  assert.equal(await page.$eval('#signed-in-as', (e) => e.textContent),
               `Signed in as ${XSS_NAME} Lovelace · ${email}`);
  assert.equal(await page.$$eval('img[src="x"]', (list) => list.length), 0);
  await checkAccessibility(page, 'account');

  // A second email: add, verify by code, make primary.
  const second = 'ada.lovelace@example.com';
  await typeInto(page, '#new-email', second);
  await page.click('#add-email-form button[type=submit]');
  await visible(page, '#verify-form');
  await typeInto(page, '#verify-code', await mailedCode(second, 'verify_email_address'));
  await page.click('#verify-form button[type=submit]');
  await page.waitForFunction((address) => [...document.querySelectorAll('#emails li')].some(
    (li) => li.textContent.includes(address) && li.textContent.includes('Make primary')), {}, second);
  await page.evaluate((address) => [...document.querySelectorAll('#emails li')]
    .find((li) => li.textContent.includes(address)).querySelector('button').click(), second);
  await page.waitForFunction((address) => [...document.querySelectorAll('#emails li')].some(
    (li) => li.textContent.includes(address) && li.textContent.includes('Primary')), {}, second);
  assert.equal((await backend('GetUser', { userId })).primaryEmailAddressId,
               (await backend('GetUser', { userId })).emailAddresses.find((e) => e.emailAddress === second).id);

  // A profile image from a file.
  const pngPath = join(SHOTS, 'avatar.png');
  writeFileSync(pngPath, PNG);
  const [chooser] = await Promise.all([page.waitForFileChooser(), page.click('#image-file')]);
  await chooser.accept([pngPath]);
  await visible(page, '#avatar');
  assert.equal((await backend('GetUser', { userId })).hasImage, true);

  // Another device's session, revoked from here.
  const other = await connect('FrontendUsers', 'SignIn', { identifier: email, password });
  await page.reload();
  await page.waitForFunction(() => [...document.querySelectorAll('#sessions li')]
    .filter((li) => li.textContent.includes('Another device')).length >= 2);
  const before = (await backend('ListSessions', { userId })).sessions.filter((s) => s.status === 'STATUS_ACTIVE').length;
  await page.evaluate((id) => {
    // The other devices are the app's session and `other`; revoke the newest (`other`).
    const items = [...document.querySelectorAll('#sessions li')].filter((li) => li.textContent.includes('Another device'));
    items.at(-1).querySelector('button').click();
  }, other.session.id);
  await page.waitForFunction((n) => [...document.querySelectorAll('#sessions li')].length === n - 1, {}, before);
  const active = (await backend('ListSessions', { userId })).sessions.filter((s) => s.status === 'STATUS_ACTIVE');
  assert.equal(active.length, before - 1);
  await checkAccessibility(page, 'account-managed');

  // Sign out, then a forgotten password.
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  assert.equal(new URL(page.url()).pathname, '/sign-in');
  await checkAccessibility(page, 'sign-in');
  await assertReachableByTab(page, 'sign-in');
  await typeInto(page, '#identifier', second);
  await page.click('#identifier-form button[type=submit]');
  await visible(page, '#password-form');
  await page.click('[data-reset]');
  await visible(page, '#code-form');
  await typeInto(page, '#code', await mailedCode(second, 'reset_password'));
  await page.click('#code-form button[type=submit]');
  await visible(page, '#new-password-form');
  await checkAccessibility(page, 'sign-in-new-password');
  const newPassword = 'a brand new passphrase';
  await typeInto(page, '#new-password', newPassword);
  await Promise.all([page.waitForNavigation(), page.click('#new-password-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/account');

  // TOTP with its QR code; the code comes from oathtool.
  await visible(page, '#totp-start');
  await page.click('#totp-start');
  await visible(page, '#totp-form');
  const secret = await page.$eval('#totp-secret', (e) => e.textContent);
  assert.match(await page.$eval('#totp-qr', (e) => e.src), /^data:image\/svg\+xml;base64,/);
  await checkAccessibility(page, 'account-totp');
  await typeInto(page, '#totp-code', totp(secret));
  await page.click('#totp-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#mfa-state').textContent.includes('is on'));

  // Sign out, and sign in again by keyboard alone: password, then the second factor.
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'identifier');
  await page.keyboard.type(email);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'password');
  await page.keyboard.type(newPassword);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'second-factor-strategy');
  await checkAccessibility(page, 'sign-in-second-factor');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(page), 'second-factor-code');
  await page.keyboard.type(totp(secret, 'now + 30 seconds'));
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.equal(new URL(page.url()).pathname, '/account');
  await visible(page, '#account');

  // Backup codes beside the app. An operator removes the app the user lost: the codes remain, but
  // new ones need an app or a two-step phone, so the page no longer offers them.
  await page.click('#backup-codes');
  await visible(page, '#backup-list');
  await backend('DeleteUserTotp', { userId });
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#mfa-state').textContent
    === 'Two-step verification is on, with backup codes.');
  assert.equal(await page.$eval('#backup-codes', (e) => e.hidden), true);

  // Delete the account.
  await page.click('#delete-account');
  await visible(page, '#delete-confirm');
  await Promise.all([page.waitForNavigation(), page.click('#delete-confirmed')]);
  const gone = await backend('GetUser', { userId }).then(() => null, (e) => e);
  assert.equal(gone?.code, 'not_found');
  assert.deepEqual(dialogs, [], 'no script ran from user data and no page error');
  await page.browserContext().close();
});

// Through the provider's own login and consent pages, as a person would, until back on `origin`.
async function throughProvider(page, login, home = origin) {
  for (let step = 0; step < 5 && !page.url().startsWith(home); step += 1) {
    if (await page.$('input[name=login]')) {
      await page.type('input[name=login]', login);
      await page.type('input[name=password]', 'any');
    }
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  }
  assert.ok(page.url().startsWith(home), `back from the provider: ${page.url()}`);
}

test('connect a social account from /account, then sign in with it from /sign-in', async () => {
  const email = 'grace@example.com';
  const password = 'a long enough password';
  const { id: userId } = await backend('CreateUser', { emailAddresses: [email], password });
  const page = await newPage();
  await page.goto(`${origin}/sign-in`);
  assert.equal(await page.$eval('button[data-provider]', (b) => b.textContent), 'Continue with Corp');
  await typeInto(page, '#identifier', email);
  await page.click('#identifier-form button[type=submit]');
  await visible(page, '#password-form');
  await typeInto(page, '#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#password-form button[type=submit]')]);
  await visible(page, '#account');

  await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
  await throughProvider(page, 'grace-corp');
  assert.equal(new URL(page.url()).pathname, '/account');
  await page.waitForFunction(() => document.querySelector('#connected').textContent.includes('grace-corp@example.com'));
  const accounts = (await backend('GetUser', { userId })).externalAccounts;
  assert.deepEqual(accounts.map((a) => [a.provider, a.providerUserId]), [['oauth_custom_corp', 'grace-corp']]);
  await checkAccessibility(page, 'account-connected');

  // Signed out, the provider account alone signs Grace in.
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
  await throughProvider(page, 'grace-corp');
  await page.waitForFunction(() => location.pathname === '/account');
  await visible(page, '#account');
  assert.match(await page.$eval('#signed-in-as', (e) => e.textContent), /grace@example\.com/);
  assert.deepEqual(dialogs, []);
  await page.browserContext().close();
});

// A new account `login` at the provider, with `picture`, signs up from /sign-up with the terms
// ticked beside the provider buttons: one trip, ending on /account.
async function signUpFromSignUpPage(login, picture) {
  await fetch(`http://127.0.0.1:${providerPort}/test/accounts`, {
    method: 'POST', body: JSON.stringify({ login, picture }),
  });
  const page = await newPage();
  await page.goto(`${origin}/sign-up`);
  await page.click('#terms-accepted');
  await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
  await throughProvider(page, login);
  await page.waitForFunction(() => location.pathname === '/account');
  await visible(page, '#account');
  return page;
}

test('a social sign-up has the terms accepted before it creates the user', async () => {
  const page = await newPage();
  await page.goto(`${origin}/sign-in`);
  await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
  await throughProvider(page, 'hedy-corp');
  // No user holds the account, and sign-up requires the terms: nobody was created.
  await visible(page, '#terms-form');
  assert.equal(new URL(page.url()).search, '', 'the page keeps no error or provider in its address');
  await checkAccessibility(page, 'sign-in-terms');
  const before = await backend('ListUsers', { emailAddresses: ['hedy-corp@example.com'] });
  assert.deepEqual(before.users || [], []);

  await page.click('#social-legal-accepted');
  await Promise.all([page.waitForNavigation(), page.click('#terms-form button[type=submit]')]);
  await throughProvider(page, 'hedy-corp');
  await page.waitForFunction(() => location.pathname === '/account');
  await visible(page, '#account');
  const [user] = (await backend('ListUsers', { emailAddresses: ['hedy-corp@example.com'] })).users;
  assert.deepEqual(user.externalAccounts.map((a) => a.providerUserId), ['hedy-corp']);
  assert.ok(Date.parse(user.legalAcceptedAt) > Date.now() - 60_000, `legalAcceptedAt: ${user.legalAcceptedAt}`);
  await page.browserContext().close();

  // From /sign-up, with the terms ticked beside the provider buttons: one trip. Ida's provider
  // gives a picture, which becomes her profile image and shows on /account.
  const picture = `https://127.0.0.1:${pictures.address().port}/ida-corp.png`;
  const second = await signUpFromSignUpPage('ida-corp', picture);
  const [ida] = (await backend('ListUsers', { emailAddresses: ['ida-corp@example.com'] })).users;
  assert.ok(Date.parse(ida.legalAcceptedAt) > Date.now() - 60_000, `legalAcceptedAt: ${ida.legalAcceptedAt}`);
  assert.equal(ida.imageUrl, picture);
  assert.equal(ida.hasImage, true);
  // Loaded, not refused by the page's Content-Security-Policy, and fetched without a referrer.
  await second.waitForFunction(() => {
    const avatar = document.querySelector('#avatar');
    return !avatar.hidden && avatar.complete && avatar.naturalWidth === 2;
  }, { timeout: 10_000 });
  assert.deepEqual(pictureRequests, [{ url: '/ida-corp.png', referer: undefined }]);
  await second.browserContext().close();

  // A picture since gone from the provider's servers shows no broken image.
  const third = await signUpFromSignUpPage('joan-corp', picture.replace('ida-corp', 'gone'));
  await third.waitForFunction(() => document.querySelector('#avatar').complete);
  assert.equal(await third.$eval('#avatar', (a) => a.hidden), true);
  assert.equal(await third.$eval('#remove-image', (b) => b.hidden), false, 'the dead picture can be removed');
  assert.deepEqual(pictureRequests.map((r) => r.url), ['/ida-corp.png', '/gone.png']);
  assert.deepEqual(dialogs, []);
  await third.browserContext().close();
});

test('a social sign-up that needs a username asks for it on /sign-up before the user exists', async () => {
  const second = await startRosterServer([`--http_listen=127.0.0.1:${secondHttpPort}`,
                                          `--oauth_providers_file=${providersFile}`, '--http_backend',
                                          `--allowed_redirect_urls=${roster.appOrigin}/app`,
                                          '--sign_up_required=email_address,password,username']);
  try {
    const home = `http://127.0.0.1:${second.httpPort}`;
    const page = await newPage();
    await page.goto(`${home}/sign-in`);
    await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
    await throughProvider(page, 'kay-corp', home);
    // The provider gave an email but no username: no user yet, and /sign-up asks for the rest
    // (no password: the provider is Kay's way in).
    await page.waitForFunction(() => location.pathname === '/sign-up');
    await visible(page, '#more-form');
    assert.equal(await page.$eval('[data-more=username]', (d) => d.hidden), false);
    assert.equal(await page.$eval('[data-more=phone_number]', (d) => d.hidden), true);
    const none = await backendOf(second, 'ListUsers', { emailAddresses: ['kay-corp@example.com'] });
    assert.deepEqual(none.users || [], []);
    await checkAccessibility(page, 'sign-up-social-username');
    // Too short first: the form says why, once.
    await typeInto(page, '#username', 'kay');
    await page.click('#more-form button[type=submit]');
    await page.waitForFunction(() => !document.querySelector('#alert').hidden);
    assert.equal(await page.$eval('#alert', (e) => e.textContent), 'username: must be 4-64 characters');
    await typeInto(page, '#username', 'kay_corp');
    await page.click('#more-form button[type=submit]');
    await visible(page, '#account');
    const [kay] = (await backendOf(second, 'ListUsers', { emailAddresses: ['kay-corp@example.com'] })).users;
    assert.equal(kay.username, 'kay_corp');
    assert.deepEqual(kay.externalAccounts.map((a) => a.providerUserId), ['kay-corp']);
    assert.equal(kay.passwordEnabled, undefined, 'no password was asked for');

    // Signed out, the provider account alone signs Kay in: nothing more is asked.
    await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
    await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
    await throughProvider(page, 'kay-corp', home);
    await page.waitForFunction(() => location.pathname === '/account');
    await visible(page, '#account');
    await page.browserContext().close();

    // Lee's provider verified no address, and the server requires one: /sign-up asks for it and
    // the username, then mails a code.
    await fetch(`http://127.0.0.1:${providerPort}/test/accounts`, {
      method: 'POST', body: JSON.stringify({ login: 'lee-corp', email_verified: false }),
    });
    const lee = await newPage();
    await lee.goto(`${home}/sign-in`);
    await Promise.all([lee.waitForNavigation(), lee.click('button[data-provider=oauth_custom_corp]')]);
    await throughProvider(lee, 'lee-corp', home);
    await lee.waitForFunction(() => location.pathname === '/sign-up');
    await visible(lee, '#sign-up-form');
    // The form shows at once; the kept sign-up fills it when it has been read back.
    await lee.waitForFunction(() => document.querySelector('#last-name').value === 'lee-corp');
    assert.equal(await lee.$eval('#email-address', (e) => e.value), '', 'an unverified address is not offered');
    // The provider is Lee's way in: no password and no other provider is offered.
    assert.equal(await lee.$eval('[data-social]', (e) => e.textContent), 'Finishing your sign-up with Corp.');
    assert.equal(await lee.$eval('[data-password]', (d) => d.hidden), true);
    assert.equal(await lee.$eval('#sign-up-form .socials', (d) => d.hidden), true);
    await checkAccessibility(lee, 'sign-up-social-email');
    await typeInto(lee, '#email-address', 'lee@example.com');
    await lee.click('#sign-up-form button[type=submit]');
    await visible(lee, '#more-form');
    await typeInto(lee, '#username', 'lee_corp');
    await lee.click('#more-form button[type=submit]');
    await visible(lee, '#verify-form');
    const { events } = await backendOf(second, 'ListEvents', { types: ['email.created'], limit: 50 });
    const [mail] = events.map((e) => e.email).filter((m) => m.emailAddress === 'lee@example.com');
    await typeInto(lee, '#sign-up-code', mail.code);
    await lee.click('#verify-form button[type=submit]');
    await visible(lee, '#account');
    const [leeUser] = (await backendOf(second, 'ListUsers', { emailAddresses: ['lee@example.com'] })).users;
    assert.equal(leeUser.username, 'lee_corp');
    assert.deepEqual(leeUser.externalAccounts.map((a) => a.providerUserId), ['lee-corp']);
    assert.deepEqual(dialogs, []);
    await lee.browserContext().close();
  } finally {
    await second.stop();
  }
});

test('an invitation signs up without a code; a mailed code signs in', async () => {
  const email = 'margaret@example.com';
  // No redirectUrl: the link leads to the portal's own sign-up page.
  const invitation = await backend('CreateInvitation', { emailAddress: email });
  assert.equal(invitation.url, `${origin}/sign-up?ticket=${invitation.ticket}`);
  const page = await newPage();
  // This tab once kept a sign-up for the same link that has since gone: the page starts another.
  await page.goto(`${origin}/sign-in`);
  await page.evaluate((ticket) => sessionStorage.setItem('roster.signUp', JSON.stringify({ id: 'su_gone', ticket })),
                      invitation.ticket);
  // The page's first calls are done when its form is no longer busy with them.
  const started = async () => {
    await page.waitForFunction(() => !document.querySelector('#sign-up-form').dataset.busy);
    assert.equal(await page.$eval('#email-address', (e) => e.value), email);
  };
  assert.deepEqual(await callsDuring(page, async () => { await page.goto(invitation.url); await started(); }),
                   ['UpdateSignUp', 'CreateSignUp']);
  // The page starts the sign-up from the ticket and shows the invited address; a reload of the
  // link takes that sign-up up again rather than starting another.
  assert.deepEqual(await callsDuring(page, async () => { await page.reload(); await started(); }),
                   ['UpdateSignUp']);
  await typeInto(page, '#first-name', 'Margaret');
  await typeInto(page, '#sign-up-password', 'hamilton apollo guidance');
  await page.click('#terms-accepted');  // Ticked with the form: no step of its own.
  await Promise.all([page.waitForNavigation(), page.click('#sign-up-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/account');
  await visible(page, '#account');
  assert.equal(await page.$eval('#signed-in-as', (e) => e.textContent), `Signed in as Margaret · ${email}`);
  assert.equal((await backend('ListInvitations', {})).invitations.find((i) => i.id === invitation.id).status,
               'STATUS_ACCEPTED');

  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await typeInto(page, '#identifier', email);
  await page.click('#identifier-form button[type=submit]');
  await visible(page, '[data-first-factor=email_code]');
  await page.click('[data-first-factor=email_code]');
  await visible(page, '#code-form');
  await checkAccessibility(page, 'sign-in-code');
  await typeInto(page, '#code', await mailedCode(email, 'sign_in'));
  await Promise.all([page.waitForNavigation(), page.click('#code-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/account');
  await page.browserContext().close();
});

async function signInWithPassword(page, identifier, password) {
  await page.goto(`${origin}/sign-in`);
  // The script focuses the identifier once it knows no one is signed in here.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'identifier');
  await typeInto(page, '#identifier', identifier);
  await page.click('#identifier-form button[type=submit]');
  await visible(page, '#password-form');
  await typeInto(page, '#password', password);
  await page.click('#password-form button[type=submit]');
}

test('a phone for two-step by SMS, backup codes, names and a changed password', async () => {
  const email = 'katherine@example.com';
  const phone = '+15555550123';
  const password = 'orbital mechanics 1962';
  const { id: userId } = await backend('CreateUser', { emailAddresses: [email], password, firstName: 'Katherine' });
  const page = await newPage();
  await signInWithPassword(page, email, password);
  await visible(page, '#account');

  // A phone number, verified by a texted code, then used for two-step.
  await typeInto(page, '#new-phone', phone);
  await page.click('#add-phone-form button[type=submit]');
  await visible(page, '#verify-form');
  await typeInto(page, '#verify-code', await textedCode(phone, 'verify_phone_number'));
  await page.click('#verify-form button[type=submit]');
  const phoneButton = (label) => page.waitForFunction((text) => [...document.querySelectorAll('#phones button')]
    .some((b) => b.textContent === text), {}, label);
  await phoneButton('Use for two-step');
  await page.evaluate(() => [...document.querySelectorAll('#phones button')]
    .find((b) => b.textContent === 'Use for two-step').click());
  await phoneButton('Stop using for two-step');
  assert.equal((await backend('GetUser', { userId })).twoFactorEnabled, true);

  // Names, and ten backup codes shown once.
  await typeInto(page, '#last-name', 'Johnson');
  await page.click('#names-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#notice').textContent === 'Profile saved.');
  assert.equal((await backend('GetUser', { userId })).lastName, 'Johnson');
  await page.click('#backup-codes');
  await visible(page, '#backup-list');
  const codes = await page.$$eval('#backup-list li', (items) => items.map((li) => li.textContent));
  assert.equal(codes.length, 10);

  // A new password, proven by the current one.
  const newPassword = 'hidden figures 2016';
  await typeInto(page, '#current-password', password);
  await typeInto(page, '#new-password', newPassword);
  await page.click('#password-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#notice').textContent === 'Password saved.');
  await checkAccessibility(page, 'account-phone');
  await assertReachableByTab(page, 'account');

  // Sign in again: the password, then a texted second factor.
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await signInWithPassword(page, email, newPassword);
  await visible(page, '#second-factor-form');
  await page.select('#second-factor-strategy', 'phone_code');
  await visible(page, '[data-send-second-factor]');
  await page.click('[data-send-second-factor]');
  await page.waitForFunction(() => document.querySelector('[data-second-factor-sent]').textContent !== '');
  await typeInto(page, '#second-factor-code', await textedCode(phone, 'second_factor'));
  await Promise.all([page.waitForNavigation(), page.click('#second-factor-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/account');

  // And once more with a backup code.
  await visible(page, '#account');
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await signInWithPassword(page, email, newPassword);
  await visible(page, '#second-factor-form');
  await page.select('#second-factor-strategy', 'backup_code');
  await typeInto(page, '#second-factor-code', codes[0]);
  await Promise.all([page.waitForNavigation(), page.click('#second-factor-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/account');

  // The phone was the last factor the codes stood in for: un-reserving it turns two-step off.
  await phoneButton('Stop using for two-step');
  await page.evaluate(() => [...document.querySelectorAll('#phones button')]
    .find((b) => b.textContent === 'Stop using for two-step').click());
  await page.waitForFunction(() => document.querySelector('#mfa-state').textContent === 'Two-step verification is off.');
  const after = await backend('GetUser', { userId });
  assert.equal(Boolean(after.twoFactorEnabled), false);  // JSON leaves out a false field.
  assert.equal(Boolean(after.backupCodeEnabled), false);
  assert.deepEqual(dialogs, []);
  await page.browserContext().close();
});

test('the user button on an app page shows the user and signs out by keyboard', async () => {
  const email = 'linus@example.com';
  const password = 'another long password';
  await backend('CreateUser', { emailAddresses: [email], password, firstName: 'Linus', lastName: 'Torvalds' });
  const signedIn = await connect('FrontendUsers', 'SignIn', { identifier: email, password });
  const page = await newPage();
  await page.goto(`${roster.appOrigin}/app/home`);
  await page.waitForFunction(() => customElements.get('roster-user-button'));
  const ready = page.evaluate(() => new Promise((resolve) => document.querySelector('roster-user-button')
    .addEventListener('roster-ready', (e) => resolve(e.detail.userId), { once: true })));
  await page.evaluate((token) => { document.querySelector('roster-user-button').getToken = async () => token; },
                      signedIn.sessionToken);
  assert.equal(await ready, signedIn.user.id);
  const shadowText = (selector) => page.$eval('roster-user-button',
                                               (e, s) => e.shadowRoot.querySelector(s).textContent, selector);
  assert.equal(await shadowText('.avatar'), 'LT');
  assert.equal(await shadowText('.name'), 'Linus Torvalds');
  assert.equal(await shadowText('.email'), email);
  await checkAccessibility(page, 'app-user-button');

  // Keyboard only: Tab to the button, open the menu, Tab to Sign out, press it.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert.equal(await page.$eval('roster-user-button', (e) => e.shadowRoot.activeElement.textContent), 'Manage account');
  await checkAccessibility(page, 'app-user-button-open');
  const signedOut = page.evaluate(() => new Promise((resolve) => document.querySelector('roster-user-button')
    .addEventListener('roster-signed-out', () => resolve(true), { once: true })));
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert.equal(await signedOut, true);
  const refreshed = await connect('FrontendUsers', 'RefreshSessionToken', {
    sessionId: signedIn.session.id, sessionSecret: signedIn.sessionSecret,
  }).then(() => null, (e) => e);
  assert.equal(refreshed?.code, 'unauthenticated');
  assert.deepEqual(dialogs, []);
  await page.browserContext().close();
});

test('the user button shows an image the app lets load, and initials when it does not', async () => {
  const email = 'grace.hopper@example.com';
  const password = 'a long enough password';
  const { id: userId } = await backend('CreateUser', { emailAddresses: [email], password,
                                                       firstName: 'Grace', lastName: 'Hopper' });
  await backend('SetProfileImage', { userId, image: PNG.toString('base64') });
  const { sessionToken } = await connect('FrontendUsers', 'SignIn', { identifier: email, password });
  // What the button shows once its image has loaded, or been refused by the page's CSP.
  const avatarOn = async (path) => {
    const page = await newPage();
    await page.goto(`${roster.appOrigin}${path}`);
    await page.evaluate(() => document.addEventListener('securitypolicyviolation',
                                                        (e) => { window.refusedImage = e.blockedURI; }));
    await page.waitForFunction(() => customElements.get('roster-user-button'));
    await page.evaluate((token) => { document.querySelector('roster-user-button').getToken = async () => token; },
                        sessionToken);
    await page.waitForFunction(() => window.refusedImage
      || document.querySelector('roster-user-button').shadowRoot.querySelector('.avatar img'));
    const shown = await page.$eval('roster-user-button', (e) => {
      const toggle = e.shadowRoot.querySelector('.avatar');
      const image = toggle.querySelector('img');
      return { text: toggle.textContent, loaded: Boolean(image && image.naturalWidth === 2),
               refused: (window.refusedImage || '').includes('/v1/images/') };
    });
    await page.browserContext().close();
    return shown;
  };
  assert.deepEqual(await avatarOn('/app/home'), { text: '', loaded: true, refused: false });
  assert.deepEqual(await avatarOn('/app/strict'), { text: 'GH', loaded: false, refused: true });
  assert.deepEqual(dialogs, []);
});

test('the cookie endpoints refuse a request without the CSRF header, or from another site', async () => {
  const bare = await fetch(`${origin}/portal/token`, { method: 'POST' });
  assert.equal(bare.status, 403);
  const crossSite = await fetch(`${origin}/portal/token`, {
    method: 'POST', headers: { 'x-roster-csrf': '1', 'sec-fetch-site': 'cross-site' },
  });
  assert.equal(crossSite.status, 403);
  assert.equal((await crossSite.json()).details[0].debug.reason, 'CSRF_CHECK_FAILED');
  const notSignedIn = await fetch(`${origin}/portal/token`, { method: 'POST', headers: { 'x-roster-csrf': '1' } });
  assert.equal(notSignedIn.status, 401);
});
