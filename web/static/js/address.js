/*
 * address.js: a page answering a form's POST (a refused form: 409, 422) shows its own
 * address in the address bar, not the form's action, so that a reload or a shared link
 * opens the page rather than a URL that only takes POSTs. Plain ES2017, no build step.
 *
 * Contract (see docs/web-frontend.md):
 *
 *   <link rel="canonical" href="/cases/PPU-2026-000001" data-replace-address>
 *
 * The address is replaced (history.replaceState: nothing is fetched, the page and what
 * was typed in it stay) when it differs from the current one; only a path on this site.
 */
(function () {
  'use strict';

  var link = document.querySelector('link[data-replace-address][href]');
  if (!link || !window.history || typeof window.history.replaceState !== 'function') {
    return;
  }
  var target = link.getAttribute('href');
  if (target.charAt(0) !== '/' || target.charAt(1) === '/') {
    return;
  }
  if (window.location.pathname + window.location.search !== target) {
    window.history.replaceState(window.history.state, '', target + window.location.hash);
  }
})();
