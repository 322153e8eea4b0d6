// The account portal in a real browser: Debian's Chromium driven by puppeteer-core against a
// real roster-server (--dev, loopback). A user signs up with a code read from the event stream,
// returns to the app with a ticket, manages the account, resets the password, turns on TOTP
// (codes from oathtool, an independent implementation), signs in by keyboard alone with the
// second factor, and deletes the account; a social user sees their provider's picture. axe-core
// checks every page; screenshots go to $PORTAL_SCREENSHOTS for a reviewer.
//
// One process, one browser and one set of servers for the whole suite (portal_harness.mjs);
// the tests live in the parts imported below, which register them in this order.
import { after, before } from 'node:test';
import { startPortal, stopPortal } from './portal_harness.mjs';

before(startPortal);
after(stopPortal);

await import('./portal_account.mjs');
await import('./portal_social.mjs');
await import('./portal_app.mjs');
