// The pending-approvals count in the navigation, re-read every few seconds while signed in
// and right after each approval action.

import { api } from './api.js';
import { poll } from './dom.js';

const POLL_MS = 5000;
let session = null;

/** Shows `count` (hidden at 0); data-count is the number, for tests and styles. */
export function setPending(count) {
  const badge = document.getElementById('approvals-badge');
  badge.textContent = String(count);
  badge.dataset.count = String(count);
  badge.hidden = count === 0;
  badge.title = `${count} pending approval${count === 1 ? '' : 's'}`;
}

export async function refreshPending(signal = session?.signal) {
  const answer = await api('/api/approvals', { query: { status: 'pending' }, signal });
  setPending(answer.pending ?? answer.approvals.length);
}

/** Starts polling (after sign-in); stop() at sign-out. A failing poll stays quiet: pages report errors. */
export function start() {
  stop();
  session = new AbortController();
  poll(() => refreshPending(session.signal), POLL_MS, session.signal, (error) => console.warn(error));
}

export function stop() {
  session?.abort();
  session = null;
}
