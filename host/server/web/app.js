// The dashboard's entry point: hash routes to pages, the header (who is signed in, the
// pending-approvals badge), and the session's start and end.
//
// A page is render(view, {signal, params, signedIn}); it builds into `view` and stops its
// timers and requests when `signal` aborts, which happens when the route changes.

import { api, setUnauthorizedHandler } from './api.js';
import * as badge from './badge.js';
import * as session from './session.js';
import { reportError } from './notify.js';
import * as login from './login.js';
import * as jobs from './jobs.js';
import * as job from './job.js';
import * as approvals from './approvals.js';
import * as runs from './runs.js';
import * as runPage from './run_page.js';

const HOME = '#/jobs';
const ROUTES = [
  { pattern: /^#\/login$/, page: login, nav: null },
  { pattern: /^#\/jobs(?:\?.*)?$/, page: jobs, nav: 'jobs' }, // ?q=&status=&sort= (jobs.js reads them)
  { pattern: /^#\/jobs\/(?<name>.+)$/, page: job, nav: 'jobs' },
  { pattern: /^#\/approvals$/, page: approvals, nav: 'approvals' },
  { pattern: /^#\/runs$/, page: runs, nav: 'runs' },
  { pattern: /^#\/runs\/(?<id>\d+)$/, page: runPage, nav: 'runs' },
];

const view = document.getElementById('view');
let current = null; // the AbortController of the page shown
let returnTo = HOME; // where to go after signing in

function showHeader(user) {
  const signedIn = Boolean(user);
  document.getElementById('topbar').hidden = !signedIn;
  document.getElementById('whoami').textContent = signedIn ? `${user.name} · ${user.role}` : '';
}

function decodeParams(groups) {
  const params = {};
  for (const [key, value] of Object.entries(groups ?? {})) params[key] = decodeURIComponent(value);
  return params;
}

function route() {
  const hash = location.hash || HOME;
  if (!session.token() && hash !== '#/login') {
    returnTo = hash;
    location.replace('#/login');
    return;
  }
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(hash) })).find(({ m }) => m);
  if (!match) {
    location.replace(HOME);
    return;
  }
  current?.abort();
  current = new AbortController();
  view.replaceChildren();
  window.scrollTo(0, 0);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === match.r.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.body.dataset.page = match.r.nav ?? 'login';
  try {
    match.r.page.render(view, { signal: current.signal, params: decodeParams(match.m.groups), signedIn });
  } catch (error) {
    reportError(error);
  }
}

function signedIn(user) {
  showHeader(user);
  badge.start();
  const target = returnTo && returnTo !== '#/login' ? returnTo : HOME;
  returnTo = HOME;
  location.hash = target;
}

function signOut() {
  session.clear();
  badge.stop();
  showHeader(null);
  location.hash = '#/login';
}

setUnauthorizedHandler(() => {
  badge.stop();
  showHeader(null);
  if (location.hash !== '#/login') {
    returnTo = location.hash || HOME;
    location.hash = '#/login';
  }
});

document.getElementById('logout').addEventListener('click', (event) => {
  event.preventDefault();
  signOut();
});

// "Skip to content" focuses the page's content; its href must not become a route.
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  view.focus();
});

window.addEventListener('hashchange', route);

// A reload keeps the session; its token is checked again (it may have been revoked).
async function start() {
  if (session.token()) {
    showHeader(session.user());
    try {
      const user = await api('/api/whoami');
      session.save(session.token(), user);
      showHeader(user);
      badge.start();
    } catch (error) {
      reportError(error); // a 401 has already sent us to the login page
    }
  }
  route();
}

start();
