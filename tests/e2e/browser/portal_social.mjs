// Social sign-in through the portal against a real OpenID provider: connecting an account,
// signing up with the terms, and a sign-up that needs more than the provider gave.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  roster, origin, providerPort, providersFile, secondHttpPort, pictures, pictureRequests, dialogs,
  backend, backendOf, newPage, checkAccessibility, visible, typeInto,
} from './portal_harness.mjs';
import { startRosterServer } from './roster_server.mjs';

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

// Clicks "Continue with Corp", then goes through the provider as `login` until back on `home`.
async function continueWithCorp(page, login, home = origin) {
  await Promise.all([page.waitForNavigation(), page.click('button[data-provider=oauth_custom_corp]')]);
  await throughProvider(page, login, home);
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

  await continueWithCorp(page, 'grace-corp');
  assert.equal(new URL(page.url()).pathname, '/account');
  await page.waitForFunction(() => document.querySelector('#connected').textContent.includes('grace-corp@example.com'));
  const accounts = (await backend('GetUser', { userId })).externalAccounts;
  assert.deepEqual(accounts.map((a) => [a.provider, a.providerUserId]), [['oauth_custom_corp', 'grace-corp']]);
  await checkAccessibility(page, 'account-connected');

  // Signed out, the provider account alone signs Grace in.
  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  await continueWithCorp(page, 'grace-corp');
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
  await continueWithCorp(page, login);
  await page.waitForFunction(() => location.pathname === '/account');
  await visible(page, '#account');
  return page;
}

test('a social sign-up has the terms accepted before it creates the user', async () => {
  const page = await newPage();
  await page.goto(`${origin}/sign-in`);
  await continueWithCorp(page, 'hedy-corp');
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
    await continueWithCorp(page, 'kay-corp', home);
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
    await continueWithCorp(page, 'kay-corp', home);
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
    await continueWithCorp(lee, 'lee-corp', home);
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
