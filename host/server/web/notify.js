// Toasts: API errors (the server's error.message, verbatim) and confirmations, in a live region
// at the top of the page. An error repeated by a poll shows once, not once per poll.

import { isAbort } from './api.js';
import { h } from './dom.js';

const ERROR_MS = 10000;
const INFO_MS = 4000;

function show(message, kind, ms) {
  const box = document.getElementById('toasts');
  const same = [...box.children].find((el) => el.dataset.message === message && el.dataset.kind === kind);
  if (same) {
    clearTimeout(Number(same.dataset.timer));
    same.dataset.timer = String(setTimeout(() => same.remove(), ms));
    return;
  }
  const toast = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status',
                           dataset: { message, kind } },
                  h('span', { class: 'toast-text' }, message),
                  h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss',
                                onclick: () => toast.remove() }, '×'));
  toast.dataset.timer = String(setTimeout(() => toast.remove(), ms));
  box.append(toast);
}

export function showError(message) {
  show(message, 'error', ERROR_MS);
}

export function showInfo(message) {
  show(message, 'info', INFO_MS);
}

/** For catch blocks: shows the error unless it is a request cancelled by leaving the page. */
export function reportError(error) {
  if (isAbort(error)) return;
  console.warn(error);
  showError(error?.message || String(error));
}
