// The portal as an app meets it: invitations, the user button on the app's own pages, and the
// cookie endpoints' CSRF rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PNG, roster, origin, dialogs, connect, backend, mailedCode, callsDuring, newPage,
  checkAccessibility, visible, typeInto,
} from './portal_harness.mjs';

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
