// The account portal's pages (DESIGN §12). Every call is FrontendUsers over
// Connect JSON on this origin. The session lives in an HttpOnly cookie that
// this script never sees: it asks /portal/token for a short-lived token.
// Everything a user typed reaches the page through textContent, never HTML.
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const query = new URLSearchParams(location.search);

class RosterError extends Error {
  constructor(body, status) {
    super(body.message || `request failed (${status})`);
    this.code = body.code || 'unknown';
    const details = body.details || [];
    const info = details.find((d) => d.type === 'google.rpc.ErrorInfo');
    this.reason = info && info.debug ? info.debug.reason : '';
    this.metadata = (info && info.debug && info.debug.metadata) || {};
    const bad = details.find((d) => d.type === 'google.rpc.BadRequest');
    this.fields = bad && bad.debug ? bad.debug.fieldViolations || [] : [];
  }
}

async function post(path, body, headers) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body || {}),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let parsed = {};
  try { parsed = text ? JSON.parse(text) : {}; } catch (e) { parsed = { message: text }; }
  if (!response.ok) throw new RosterError(parsed, response.status);
  return parsed;
}

// FrontendUsers.<method>, with the session's token when `signedIn`.
async function call(method, body, signedIn = false) {
  const headers = signedIn ? { authorization: `Bearer ${await sessionToken()}` } : {};
  return post(`/roster.v1.FrontendUsers/${method}`, body, headers);
}

// The portal's cookie endpoints: the CSRF header proves the call is ours.
const portal = (name, body) => post(`/portal/${name}`, body, { 'x-roster-csrf': '1' });

// A token's claims; {} when it cannot be read.
function claimsOf(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch (e) {
    return {};
  }
}

let token = null;  // { value, expires (ms) }, in memory only.
async function sessionToken() {
  if (!token || token.expires < Date.now() + 10000) {
    const { sessionToken: value } = await portal('token');
    const exp = claimsOf(value).exp;
    token = { value, expires: exp ? exp * 1000 : Date.now() + 30000 };
  }
  return token.value;
}

// This browser's session id (the token's `sid` claim).
const currentSessionId = () => (token ? claimsOf(token.value).sid || '' : '');

const MESSAGES = {
  IDENTIFIER_EXISTS: 'That address is already taken. Sign in instead?',
  SIGN_UP_RESTRICTED: 'Sign-up needs an invitation.',
  TOO_MANY_ATTEMPTS: 'Too many attempts. Wait a little and try again.',
  USER_LOCKED: 'This account is locked for now. Try again later.',
  REDIRECT_URL_NOT_ALLOWED: 'The app you came from is not allowed to receive a sign-in.',
};

function showAlert(error) {
  const alert = $('#alert');
  $$('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
  if (!error) {
    alert.hidden = true;
    return;
  }
  const fields = (error.fields || []).map((f) => `${f.field.replace(/_/g, ' ')}: ${f.description}`);
  // The server's message for invalid fields only repeats them ("username: …", "2 invalid fields").
  const lead = MESSAGES[error.reason] || (fields.length ? '' : error.message);
  alert.textContent = [lead, ...fields].filter(Boolean).join(' · ');
  alert.hidden = false;
  for (const f of error.fields || []) {
    const input = $(`[name="${CSS.escape(f.field)}"]:not([hidden])`);
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  alert.focus();
}

function showNotice(text) {
  const notice = $('#notice');
  if (!notice) return;
  notice.textContent = text;
  notice.hidden = !text;
}

// Runs `work` for a form or button, showing its error; keeps double clicks out.
async function guarded(control, work) {
  if (control.dataset.busy) return;
  control.dataset.busy = '1';
  showAlert(null);
  try {
    await work();
  } catch (error) {
    showAlert(error instanceof RosterError ? error : { message: 'Something went wrong. Try again.' });
  } finally {
    delete control.dataset.busy;
  }
}

function onSubmit(form, work) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    guarded(form, () => work(form));
  });
}

function onClick(button, work) {
  button.addEventListener('click', () => guarded(button, () => work(button)));
}

// Shows one [data-step] form and moves focus into it.
function showStep(id) {
  $$('[data-step]').forEach((step) => { step.hidden = step.id !== id; });
  const first = $(`#${id} input:not([type=hidden]), #${id} select`);
  if (first) first.focus();
}

// Where the app wants the user back, if it is one the server allows.
const redirectUrl = query.get('redirect_url') || '';

// Keeps the app's redirect_url on links between the sign-in and sign-up pages.
function carryRedirect(link) {
  if (link && redirectUrl) link.search = new URLSearchParams({ redirect_url: redirectUrl }).toString();
}

// After a complete sign-in or sign-up: the cookie, then back to the app.
async function finish(answer) {
  await portal('session', { sessionId: answer.session.id, sessionSecret: answer.sessionSecret });
  await leave();
}

async function leave() {
  if (redirectUrl) {
    const { location: target } = await portal('ticket', { redirectUrl });
    location.assign(target);
  } else {
    location.assign('/account');
  }
}

// Off to the provider; a sign-in comes back to /sign-in knowing which one it was, so a sign-up
// that needs the terms accepted can start again with them (SIGN_UP_INCOMPLETE).
async function goSocial(provider, action, legalAccepted = false) {
  const back = new URL(action === 'ACTION_CONNECT' ? '/account' : '/sign-in', location.origin);
  if (redirectUrl) back.searchParams.set('redirect_url', redirectUrl);
  if (action === 'ACTION_SIGN_IN') back.searchParams.set('provider', provider);
  const answer = await call('StartOAuth', { provider, redirectUrl: back.href, action, legalAccepted },
                            action === 'ACTION_CONNECT');
  location.assign(answer.authorizationUrl);
}

// A sign-up in progress, kept in this tab's sessionStorage with the invitation ticket it came
// from ('' for none) until it completes (sign-up.js takes it up).
const KEPT_SIGN_UP = 'roster.signUp';

// A social sign-in that needs more than the provider gave (SIGN_UP_INCOMPLETE): its sign-up is
// finished on /sign-up, which asks for the rest.
function continueSignUp(signUpId) {
  try {
    sessionStorage.setItem(KEPT_SIGN_UP, JSON.stringify({ id: signUpId, ticket: '' }));
  } catch (e) {
    showAlert({ message: 'This browser keeps no session storage for this page; allow it to sign up.' });
    return;
  }
  const target = new URL('/sign-up', location.origin);
  if (redirectUrl) target.searchParams.set('redirect_url', redirectUrl);
  location.assign(target);
}

function startSocial(button, action, legalAccepted = false) {
  return guarded(button, () => goSocial(button.dataset.provider, action, legalAccepted));
}

// ---- /sign-in --------------------------------------------------------------

function signInPage() {
  let attempt = null;
  let codeStrategy = '';
  carryRedirect($('#sign-up-link'));

  async function handle(answer) {
    if (answer.status === 'STATUS_COMPLETE' || (answer.session && answer.sessionSecret)) {
      await finish(answer);
      return;
    }
    attempt = answer.signInAttempt || attempt;
    if (answer.status === 'STATUS_NEEDS_NEW_PASSWORD') {
      showStep('new-password-form');
    } else if (answer.status === 'STATUS_NEEDS_SECOND_FACTOR') {
      const select = $('#second-factor-strategy');
      const supported = attempt.supportedSecondFactors || [];
      $$('option', select).forEach((o) => { o.hidden = !supported.includes(o.value); });
      select.value = supported[0] || 'totp';
      select.dispatchEvent(new Event('change'));
      showStep('second-factor-form');
    }
  }

  onSubmit($('#identifier-form'), async () => {
    attempt = await call('StartSignIn', { identifier: $('#identifier').value.trim() });
    const factors = attempt.supportedFirstFactors || [];
    $$('[data-identifier]').forEach((e) => { e.textContent = attempt.identifier; });
    $$('[data-first-factor]').forEach((b) => { b.hidden = !factors.includes(b.dataset.firstFactor); });
    $('[data-reset]').hidden = !factors.some((f) => f.startsWith('reset_password_'));
    showStep('password-form');
  });

  onSubmit($('#password-form'), async () => {
    await handle(await call('AttemptSignInFactor', {
      signInAttemptId: attempt.id, strategy: 'password', password: $('#password').value,
    }));
  });

  async function sendCode(strategy) {
    await call('PrepareSignInFactor', { signInAttemptId: attempt.id, strategy });
    codeStrategy = strategy;
    $('[data-code-sent]').textContent = `We sent a code to ${attempt.identifier}.`;
    $('#code').value = '';
    showStep('code-form');
  }
  $$('[data-first-factor]').forEach((b) => onClick(b, () => sendCode(b.dataset.firstFactor)));
  onClick($('[data-reset]'), () => sendCode(
    (attempt.supportedFirstFactors || []).find((f) => f.startsWith('reset_password_'))));

  onSubmit($('#code-form'), async () => {
    await handle(await call('AttemptSignInFactor', {
      signInAttemptId: attempt.id, strategy: codeStrategy, code: $('#code').value.trim(),
    }));
  });

  onSubmit($('#new-password-form'), async () => {
    await handle(await call('ResetPassword', {
      signInAttemptId: attempt.id, password: $('#new-password').value,
      signOutOfOtherSessions: $('#sign-out-others').checked,
    }));
  });

  $('#second-factor-strategy').addEventListener('change', () => {
    $('[data-send-second-factor]').hidden = $('#second-factor-strategy').value !== 'phone_code';
  });
  onClick($('[data-send-second-factor]'), async () => {
    await call('PrepareSignInFactor', { signInAttemptId: attempt.id, strategy: 'phone_code' });
    $('[data-second-factor-sent]').textContent = 'We texted a code to your two-step phone.';
    $('#second-factor-code').focus();
  });
  onSubmit($('#second-factor-form'), async () => {
    await handle(await call('AttemptSignInFactor', {
      signInAttemptId: attempt.id, strategy: $('#second-factor-strategy').value,
      code: $('#second-factor-code').value.trim(),
    }));
  });

  $$('[data-restart]').forEach((b) => b.addEventListener('click', () => {
    attempt = null;
    showAlert(null);
    showStep('identifier-form');
  }));
  $$('button[data-provider]').forEach((b) => b.addEventListener('click',
                                                                () => startSocial(b, 'ACTION_SIGN_IN')));

  // Back from a social provider: its ticket, or why it failed.
  const ticket = query.get('roster_ticket');
  const failure = query.get('roster_error');
  const provider = query.get('provider') || '';
  onSubmit($('#terms-form'), () => goSocial(provider, 'ACTION_SIGN_IN', true));
  history.replaceState(null, '', redirectUrl ? `?redirect_url=${encodeURIComponent(redirectUrl)}` : location.pathname);
  if (ticket) {
    guarded($('#identifier-form'), async () => {
      try {
        handle(await call('SignInWithTicket', { ticket }));
      } catch (error) {
        const signUpId = error instanceof RosterError && error.reason === 'SIGN_UP_INCOMPLETE'
          ? error.metadata.sign_up_id : '';
        if (!signUpId) throw error;
        continueSignUp(signUpId);
      }
    });
  } else if (failure === 'SIGN_UP_INCOMPLETE' && provider) {
    showStep('terms-form');
  } else if (failure) {
    showAlert({ message: `Social sign-in did not complete (${failure}).` });
  } else {
    // Already signed in here: straight on.
    sessionToken().then(() => leave(), () => $('#identifier').focus());
  }
}

// ---- /account --------------------------------------------------------------

function item(list, text, badges, buttons) {
  const li = document.createElement('li');
  const span = document.createElement('span');
  span.textContent = text;
  li.append(span);
  for (const badge of badges) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = badge;
    li.append(b);
  }
  const row = document.createElement('div');
  for (const [label, action, className] of buttons) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = className || 'secondary';
    button.textContent = label;
    onClick(button, action);
    row.append(button);
  }
  li.append(row);
  list.append(li);
}

function accountPage() {
  let user = null;
  let verifying = null;  // { kind: 'email' | 'phone', id }

  function render(next) {
    user = next;
    $('#account').hidden = false;
    const primary = (user.emailAddresses || []).find((e) => e.id === user.primaryEmailAddressId);
    const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
    $('#signed-in-as').textContent =
      `Signed in as ${[name, primary && primary.emailAddress].filter(Boolean).join(' · ') || user.username || user.id}`;
    $('#first-name').value = user.firstName || '';
    $('#last-name').value = user.lastName || '';
    $('#username').value = user.username || '';
    const avatar = $('#avatar');
    if (!user.hasImage) {
      avatar.hidden = true;
      avatar.removeAttribute('src');
    } else if (avatar.getAttribute('src') !== user.imageUrl) {
      avatar.hidden = true;  // Until it loads (the listeners below): a provider's picture can be gone.
      avatar.src = user.imageUrl;
    }
    $('#remove-image').hidden = !user.hasImage;

    const emails = $('#emails');
    emails.replaceChildren();
    for (const e of user.emailAddresses || []) {
      const verified = e.verification && e.verification.status === 'STATUS_VERIFIED';
      const primary = e.id === user.primaryEmailAddressId;
      const buttons = [];
      if (!verified) buttons.push(['Verify', () => startVerify('email', e)]);
      if (verified && !primary) buttons.push(['Make primary', async () => render(await call('UpdateMe', { primaryEmailAddressId: e.id }, true))]);
      if (!primary) buttons.push(['Remove', async () => { await call('DeleteMyEmailAddress', { emailAddressId: e.id }, true); await reload(); }]);
      item(emails, e.emailAddress, [primary ? 'Primary' : '', verified ? 'Verified' : 'Unverified'].filter(Boolean), buttons);
    }

    const phones = $('#phones');
    phones.replaceChildren();
    for (const p of user.phoneNumbers || []) {
      const verified = p.verification && p.verification.status === 'STATUS_VERIFIED';
      const primary = p.id === user.primaryPhoneNumberId;
      const buttons = [];
      if (!verified) buttons.push(['Verify', () => startVerify('phone', p)]);
      if (verified && !primary) buttons.push(['Make primary', async () => render(await call('UpdateMe', { primaryPhoneNumberId: p.id }, true))]);
      if (verified) {
        buttons.push([p.reservedForSecondFactor ? 'Stop using for two-step' : 'Use for two-step', async () => {
          await call('UpdateMyPhoneNumber', { phoneNumberId: p.id, reservedForSecondFactor: !p.reservedForSecondFactor,
                                             defaultSecondFactor: !p.reservedForSecondFactor }, true);
          await reload();
        }]);
      }
      buttons.push(['Remove', async () => { await call('DeleteMyPhoneNumber', { phoneNumberId: p.id }, true); await reload(); }]);
      const badges = [primary ? 'Primary' : '', verified ? 'Verified' : 'Unverified',
                      p.reservedForSecondFactor ? 'Two-step' : ''].filter(Boolean);
      item(phones, p.phoneNumber, badges, buttons);
    }

    $('#current-password-field').hidden = !user.passwordEnabled;
    $('#current-password').required = user.passwordEnabled;
    $('#password-submit').textContent = user.passwordEnabled ? 'Change password' : 'Set password';
    $('#remove-password').hidden = !user.passwordEnabled;

    $('#mfa-state').textContent = user.twoFactorEnabled
      ? `Two-step verification is on${user.totpEnabled ? ' (authenticator app)' : ''}${user.backupCodeEnabled ? ', with backup codes' : ''}.`
      : 'Two-step verification is off.';
    $('#totp-start').hidden = user.totpEnabled;
    $('#totp-remove-form').hidden = !user.totpEnabled;
    // Backup codes stand in for an app or a two-step phone; without one the server refuses them.
    $('#backup-codes').hidden = !(user.totpEnabled || (user.phoneNumbers || []).some((p) => p.reservedForSecondFactor));

    const connected = $('#connected');
    connected.replaceChildren();
    for (const a of user.externalAccounts || []) {
      item(connected, `${a.provider.replace(/^oauth_(custom_)?/, '')}: ${a.emailAddress || a.username || a.providerUserId || ''}`, [],
           [['Disconnect', async () => { await call('DeleteMyExternalAccount', { externalAccountId: a.id }, true); await reload(); }]]);
    }
    $('#delete-account').hidden = !user.deleteSelfEnabled;
  }

  // Both reads land before anything is drawn: drawing the sessions later would push the controls
  // below them down under a pointer already on its way to one of them.
  async function reload() {
    const [me, { sessions }] = await Promise.all([call('GetMe', {}, true), call('ListMySessions', {}, true)]);
    render(me);
    drawSessions(sessions);
  }

  async function renderSessions() {
    drawSessions((await call('ListMySessions', {}, true)).sessions);
  }

  function drawSessions(sessions) {
    const list = $('#sessions');
    list.replaceChildren();
    const mine = currentSessionId();
    for (const s of sessions || []) {
      if (s.status !== 'STATUS_ACTIVE') continue;
      const since = s.lastActiveAt ? new Date(s.lastActiveAt).toLocaleString() : '';
      if (s.id === mine) {
        item(list, `This device · active ${since}`, ['Current'], []);
      } else {
        item(list, `Another device · active ${since}`, [], [['Revoke', async () => {
          await call('RevokeMySession', { sessionId: s.id }, true);
          await renderSessions();
        }]]);
      }
    }
  }

  async function startVerify(kind, resource) {
    verifying = { kind, id: resource.id };
    if (kind === 'email') {
      await call('PrepareEmailAddressVerification', { emailAddressId: resource.id, strategy: 'email_code' }, true);
    } else {
      await call('PreparePhoneNumberVerification', { phoneNumberId: resource.id, strategy: 'phone_code' }, true);
    }
    $('[data-code-sent]', $('#verify-form')).textContent =
      `We sent a code to ${kind === 'email' ? resource.emailAddress : resource.phoneNumber}.`;
    $('#verify-code').value = '';
    $('#verify-form').hidden = false;
    $('#verify-code').focus();
  }

  onSubmit($('#verify-form'), async (form) => {
    const code = $('#verify-code').value.trim();
    if (verifying.kind === 'email') {
      await call('AttemptEmailAddressVerification', { emailAddressId: verifying.id, code }, true);
    } else {
      await call('AttemptPhoneNumberVerification', { phoneNumberId: verifying.id, code }, true);
    }
    form.hidden = true;
    showNotice('Verified.');
    await reload();
  });

  onSubmit($('#names-form'), async () => {
    const fields = { firstName: $('#first-name').value.trim(), lastName: $('#last-name').value.trim() };
    const username = $('#username').value.trim();
    if (username !== (user.username || '')) fields.username = username;
    render(await call('UpdateMe', fields, true));
    showNotice('Profile saved.');
  });

  $('#avatar').addEventListener('load', (event) => { event.target.hidden = false; });
  $('#avatar').addEventListener('error', (event) => { event.target.hidden = true; });
  $('#image-file').addEventListener('change', (event) => guarded(event.target, async () => {
    const file = event.target.files[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    render(await call('SetMyProfileImage', { image: btoa(binary) }, true));
    event.target.value = '';
    showNotice('Profile image updated.');
  }));
  onClick($('#remove-image'), async () => render(await call('DeleteMyProfileImage', {}, true)));

  onSubmit($('#add-email-form'), async () => {
    const created = await call('CreateMyEmailAddress', { emailAddress: $('#new-email').value.trim() }, true);
    $('#new-email').value = '';
    await reload();
    await startVerify('email', created);
  });
  onSubmit($('#add-phone-form'), async () => {
    const created = await call('CreateMyPhoneNumber', { phoneNumber: $('#new-phone').value.trim() }, true);
    $('#new-phone').value = '';
    await reload();
    await startVerify('phone', created);
  });

  onSubmit($('#password-form'), async () => {
    render(await call('ChangeMyPassword', {
      currentPassword: $('#current-password').value, newPassword: $('#new-password').value,
      signOutOfOtherSessions: $('#sign-out-others').checked,
    }, true));
    $('#current-password').value = '';
    $('#new-password').value = '';
    showNotice('Password saved.');
  });
  onClick($('#remove-password'), async () => {
    render(await call('RemoveMyPassword', { currentPassword: $('#current-password').value }, true));
    showNotice('Password removed.');
  });

  onClick($('#totp-start'), async () => {
    const totp = await call('CreateMyTotp', {}, true);
    $('#totp-secret').textContent = totp.secret;
    $('#totp-qr').src = `data:image/svg+xml;base64,${btoa(totp.qrCodeSvg)}`;
    $('#totp-form').hidden = false;
    $('#totp-code').focus();
  });
  onSubmit($('#totp-form'), async (form) => {
    await call('VerifyMyTotp', { code: $('#totp-code').value.trim() }, true);
    form.hidden = true;
    $('#totp-code').value = '';
    showNotice('Authenticator app turned on.');
    await reload();
  });
  onSubmit($('#totp-remove-form'), async () => {
    render(await call('DeleteMyTotp', { code: $('#totp-remove-code').value.trim() }, true));
    $('#totp-remove-code').value = '';
    showNotice('Authenticator app removed.');
  });
  onClick($('#backup-codes'), async () => {
    const { codes } = await call('CreateMyBackupCodes', {}, true);
    const list = $('#backup-list ul');
    list.replaceChildren(...codes.map((c) => Object.assign(document.createElement('li'), { textContent: c })));
    $('#backup-list').hidden = false;
    await reload();
  });

  $$('button[data-provider]').forEach((b) => {
    b.textContent = `Connect ${b.dataset.label}`;
    b.addEventListener('click', () => startSocial(b, 'ACTION_CONNECT'));
  });

  onClick($('#sign-out'), async () => {
    await portal('sign-out');
    location.assign('/sign-in');
  });
  onClick($('#delete-account'), () => {
    $('#delete-confirm').hidden = false;
    $('#delete-cancel').focus();
  });
  onClick($('#delete-cancel'), () => {
    $('#delete-confirm').hidden = true;
    $('#delete-account').focus();
  });
  onClick($('#delete-confirmed'), async () => {
    await call('DeleteMe', {}, true);
    await portal('sign-out').catch(() => {});
    location.assign('/sign-up');
  });

  const ticketError = query.get('roster_error');
  if (query.has('roster_ticket') || ticketError) history.replaceState(null, '', location.pathname);
  reload().then(() => {
    if (ticketError) showAlert({ message: `The account was not connected (${ticketError}).` });
  }, (error) => {
    if (error.code === 'unauthenticated') {
      location.assign('/sign-in');
    } else {
      showAlert(error);
    }
  });
}

const pages = { 'sign-in': signInPage, account: accountPage };  // /sign-up: sign-up.js.
const page = pages[document.body.dataset.page];
if (page) page();
