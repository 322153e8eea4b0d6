// The portal's /sign-up page (DESIGN §10, §12), on portal.js's helpers, which sign-up.html
// loads first. A sign-up in progress survives a reload of its tab: the id, its capability, is
// kept in this tab's sessionStorage until the sign-up completes or ends, so a code already sent
// stays the one to type and an invitation's page reloaded starts no second sign-up.
'use strict';

function signUpPage() {
  let signUp = null;
  carryRedirect($('#sign-in-link'));
  const invitation = query.get('ticket') || '';
  // Present when the server requires the terms; left unticked, the next step asks again.
  const terms = $('#terms-accepted');
  const termsAccepted = () => Boolean(terms && terms.checked);

  // Kept with the page's ticket ('' for none): an invitation's sign-up is taken up again only
  // from that invitation's link, and a plain one (or a social one, kept by the sign-in page)
  // only from a plain /sign-up.
  const KEPT = KEPT_SIGN_UP;
  // A browser without storage for this page (a setting) only loses the resuming.
  const stored = (work, otherwise) => { try { return work(); } catch (e) { return otherwise; } };
  const keep = () => stored(() => sessionStorage.setItem(KEPT, JSON.stringify({ id: signUp.id, ticket: invitation })));
  const forget = () => stored(() => sessionStorage.removeItem(KEPT));
  const keptId = () => stored(() => {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || 'null');
    return kept && kept.ticket === invitation ? String(kept.id) : '';
  }, '');

  // A social sign-up (the sign-in page kept it) asks for no password: its provider is the way
  // in. The form says which provider rather than offering the others.
  function showProvider() {
    const verification = signUp.externalAccountVerification;
    if (!verification) return;
    const provider = String(verification.strategy || '').replace(/^from_/, '');
    const button = $$('button[data-provider]').find((b) => b.dataset.provider === provider);
    $('[data-password]').hidden = true;
    $('#sign-up-form .socials').hidden = true;
    const note = $('[data-social]');
    note.textContent = `Finishing your sign-up with ${button ? button.dataset.label : 'your provider'}.`;
    note.hidden = false;
  }

  // `resumed`: the sign-up was taken up after a reload, so a code still pending is not sent again.
  const FIRST_FORM = ['first_name', 'last_name', 'email_address', 'password'];
  async function next(answer, resumed = false) {
    signUp = answer.signUp;
    showProvider();
    if (answer.session && answer.sessionSecret) {
      forget();
      await finish(answer);
      return;
    }
    keep();
    // Taken up again, a sign-up still short of the first form's fields goes back to that form.
    if (resumed && (signUp.missingFields || []).some((f) => FIRST_FORM.includes(f))) {
      showStep('sign-up-form');
      return;
    }
    const missing = (signUp.missingFields || []).filter((f) => ['username', 'phone_number', 'legal_accepted'].includes(f));
    if (missing.length) {
      $$('[data-more]').forEach((d) => { d.hidden = !missing.includes(d.dataset.more); });
      showStep('more-form');
      return;
    }
    const unverified = signUp.unverifiedFields || [];
    if (unverified.length) {
      const email = unverified[0] === 'email_address';
      const verification = (email ? signUp.emailAddressVerification : signUp.phoneNumberVerification) || {};
      const pending = verification.status === 'STATUS_UNVERIFIED' && verification.expireAt
                      && Date.parse(verification.expireAt) > Date.now();
      if (resumed && pending) {
        showCodeSent(verification.strategy);
      } else {
        await sendCode(email ? 'email_code' : 'phone_code');
      }
      return;
    }
    if ((signUp.missingFields || []).length) {
      showAlert({ message: `Still needed: ${signUp.missingFields.join(', ').replace(/_/g, ' ')}.` });
      showStep('sign-up-form');
    }
  }

  let strategy = '';
  function showCodeSent(chosen) {
    strategy = chosen;
    $('[data-code-sent]').textContent = `We sent a code to ${strategy === 'email_code' ? signUp.emailAddress : signUp.phoneNumber}.`;
    showStep('verify-form');
  }
  async function sendCode(chosen) {
    await call('PrepareSignUpVerification', { signUpId: signUp.id, strategy: chosen });
    showCodeSent(chosen);
  }

  // The sign-up this tab kept, taken up where it was; false when there is none still open.
  async function resume() {
    const id = keptId();
    if (!id) return false;
    let answer;
    try {
      answer = await call('UpdateSignUp', { signUpId: id });
    } catch (error) {
      forget();  // Completed, abandoned or pruned since: a new one starts.
      return false;
    }
    const s = answer.signUp;
    for (const [selector, value] of [['#first-name', s.firstName], ['#last-name', s.lastName],
                                     ['#email-address', s.emailAddress], ['#username', s.username],
                                     ['#phone-number', s.phoneNumber]]) {
      if ($(selector)) $(selector).value = value || '';
    }
    await next(answer, true);
    return true;
  }

  onSubmit($('#sign-up-form'), async () => {
    const fields = {};
    for (const [id, name] of [['first-name', 'firstName'], ['last-name', 'lastName'],
                              ['email-address', 'emailAddress'], ['sign-up-password', 'password']]) {
      const value = name === 'password' ? $(`#${id}`).value : $(`#${id}`).value.trim();
      if (value) fields[name] = value;
    }
    if (termsAccepted()) fields.legalAccepted = true;
    await next(signUp ? await call('UpdateSignUp', { signUpId: signUp.id, ...fields })
                      : await call('CreateSignUp', { ...fields, ticket: invitation }));
  });

  onSubmit($('#more-form'), async () => {
    const fields = {};
    if (!$('[data-more=username]').hidden) fields.username = $('#username').value.trim();
    if (!$('[data-more=phone_number]').hidden) fields.phoneNumber = $('#phone-number').value.trim();
    if (!$('[data-more=legal_accepted]').hidden) fields.legalAccepted = $('#legal-accepted').checked;
    await next(await call('UpdateSignUp', { signUpId: signUp.id, ...fields }));
  });

  onSubmit($('#verify-form'), async () => {
    await next(await call('AttemptSignUpVerification',
                          { signUpId: signUp.id, strategy, code: $('#sign-up-code').value.trim() }));
  });
  onClick($('[data-resend]'), () => sendCode(strategy));
  $$('button[data-provider]').forEach((b) => b.addEventListener(
    'click', () => startSocial(b, 'ACTION_SIGN_IN', termsAccepted())));
  $('#first-name').focus();
  guarded($('#sign-up-form'), async () => {
    if (await resume() || !invitation) return;
    // An invitation's link: the sign-up starts from the ticket, which shows the invited address.
    const answer = await call('CreateSignUp', { ticket: invitation });
    if (answer.session && answer.sessionSecret) return finish(answer);
    signUp = answer.signUp;
    keep();
    $('#email-address').value = signUp.emailAddress || '';
  });
}

signUpPage();
