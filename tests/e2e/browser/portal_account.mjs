// The portal's own pages for a person with a password: page weight and CSP, the whole life of an
// account (sign-up by code, management, reset, TOTP, keyboard sign-in, deletion) and two-step
// by SMS with backup codes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  SHOTS, PNG, XSS_NAME, roster, origin, browser, appVisits, dialogs, connect, backend, mailsTo,
  mailedCode, textedCode, totp, newPage, checkAccessibility, visible, assertReachableByTab,
  typeInto, focusedId,
} from './portal_harness.mjs';

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
