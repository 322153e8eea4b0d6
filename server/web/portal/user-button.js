// <roster-user-button>: Clerk's <UserButton/> for an app's own pages. Load it from the
// portal and give it the app's way to get a session token:
//
//   <script src="https://accounts.example.com/portal/user-button.js" defer></script>
//   <roster-user-button></roster-user-button>
//   document.querySelector('roster-user-button').getToken = async () => mySessionToken;
//
// It calls GetMe on the portal's origin over Connect (the app's origin must be in
// --allowed_origins), shows the user's image or initials, and opens a menu with
// "Manage account" (the portal's /account) and "Sign out", which ends the session and fires
// `roster-signed-out` on the element. Its markup and style live in a shadow root, so the app's
// CSS cannot break it; user values are set as text only.
(() => {
  'use strict';
  const portal = new URL(document.currentScript.src).origin;
  const css = `
    :host { display: inline-block; position: relative; font: 15px/1.4 system-ui, sans-serif; }
    button { font: inherit; cursor: pointer; }
    .avatar { width: 2.25rem; height: 2.25rem; border-radius: 50%; border: 2px solid #4f46e5;
      background: #4f46e5; color: #fff; padding: 0; overflow: hidden; font-weight: 600; }
    .avatar img { width: 100%; height: 100%; object-fit: cover; }
    .menu { position: absolute; right: 0; margin-top: .5rem; min-width: 14rem; padding: .75rem;
      background: #fff; color: #1f2937; border: 1px solid #d1d5db; border-radius: .5rem;
      box-shadow: 0 4px 16px rgba(0,0,0,.15); z-index: 1000; }
    .menu.start { right: auto; left: 0; }
    .menu p { margin: 0 0 .5rem; overflow-wrap: anywhere; }
    .menu .email { color: #4b5563; font-size: .9rem; }
    .menu a, .menu button { display: block; width: 100%; margin-top: .25rem; padding: .4rem .5rem;
      text-align: left; color: #1f2937; background: none; border: 0; border-radius: .3rem;
      text-decoration: none; }
    .menu a:hover, .menu button:hover { background: #f3f4f6; }
    :focus-visible { outline: 3px solid #4f46e5; outline-offset: 2px; }
    [hidden] { display: none !important; }`;

  class RosterUserButton extends HTMLElement {
    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      this.toggle = Object.assign(document.createElement('button'), { className: 'avatar', type: 'button' });
      this.toggle.setAttribute('aria-haspopup', 'true');
      this.toggle.setAttribute('aria-expanded', 'false');
      this.toggle.setAttribute('aria-label', 'Account menu');
      this.menu = Object.assign(document.createElement('div'), { className: 'menu', hidden: true });
      this.menu.id = 'menu';
      this.toggle.setAttribute('aria-controls', 'menu');
      this.name = Object.assign(document.createElement('p'), { className: 'name' });
      this.email = Object.assign(document.createElement('p'), { className: 'email' });
      const manage = Object.assign(document.createElement('a'), {
        href: `${portal}/account`, textContent: 'Manage account',
      });
      this.signOut = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Sign out' });
      this.menu.append(this.name, this.email, manage, this.signOut);
      root.append(this.toggle, this.menu);
      this.toggle.addEventListener('click', () => this.open(this.menu.hidden));
      this.signOut.addEventListener('click', () => this.end());
      this.addEventListener('keydown', (event) => {
        if (event.key === 'Escape' && !this.menu.hidden) {
          this.open(false);
          this.toggle.focus();
        }
      });
    }

    set getToken(provider) {
      this.tokenProvider = provider;
      if (provider && this.isConnected) this.show();
    }

    get getToken() { return this.tokenProvider; }

    connectedCallback() {
      if (this.tokenProvider) this.show();
    }

    // Renders the user, or fires `roster-error` when that fails.
    show() {
      this.refresh().catch((error) => this.dispatchEvent(new CustomEvent('roster-error', { detail: error })));
    }

    async call(method) {
      const token = await this.tokenProvider();
      const response = await fetch(`${portal}/roster.v1.FrontendUsers/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{}',
      });
      if (!response.ok) throw new Error(`${method}: ${response.status}`);
      return response.json();
    }

    async refresh() {
      const user = await this.call('GetMe');
      const primary = (user.emailAddresses || []).find((e) => e.id === user.primaryEmailAddressId);
      const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
      this.name.textContent = name || user.username || '';
      this.email.textContent = primary ? primary.emailAddress : '';
      const initials = (name || (primary && primary.emailAddress) || '?').split(/\s+/)
        .map((word) => [...word][0] || '').join('').slice(0, 2).toUpperCase();
      this.toggle.textContent = initials;
      if (user.hasImage) {
        const image = Object.assign(document.createElement('img'), { src: user.imageUrl, alt: '' });
        // Initials stay until it loads: a provider's picture can be gone, or the app's CSP refuse it.
        image.addEventListener('load', () => this.toggle.replaceChildren(image), { once: true });
      }
      this.toggle.setAttribute('aria-label', `Account menu for ${name || this.email.textContent || 'you'}`);
      this.dispatchEvent(new CustomEvent('roster-ready', { detail: { userId: user.id } }));
    }

    open(show) {
      // Opens toward the page's middle, wherever the app put the button.
      this.menu.classList.toggle('start', this.toggle.getBoundingClientRect().left < window.innerWidth / 2);
      this.menu.hidden = !show;
      this.toggle.setAttribute('aria-expanded', String(show));
      if (show) this.menu.querySelector('a').focus();
    }

    async end() {
      await this.call('SignOut');
      this.open(false);
      this.dispatchEvent(new CustomEvent('roster-signed-out'));
    }
  }

  if (!customElements.get('roster-user-button')) customElements.define('roster-user-button', RosterUserButton);
})();
