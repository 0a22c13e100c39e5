// The login page: a token, checked with GET /api/whoami before it is kept.

import { api } from './api.js';
import { h } from './dom.js';
import * as session from './session.js';

/** `signedIn(user)` is the app's: it fills the header and goes where the user was headed. */
export function render(view, { signal, signedIn }) {
  document.title = 'Sign in · cronhost';
  const input = h('input', { id: 'token-input', name: 'token', type: 'password', required: true,
                             autocomplete: 'current-password', spellcheck: 'false' });
  const button = h('button', { id: 'login-button', type: 'submit', class: 'button primary' }, 'Sign in');
  const error = h('p', { id: 'login-error', class: 'form-error', role: 'alert', hidden: true });
  const form = h('form', { id: 'login-form', class: 'login card' },
    h('h1', {}, 'cronhost'),
    h('p', { class: 'muted' }, 'Sign in with an API token from the daemon\'s server.tokens.'),
    h('label', { for: 'token-input' }, 'Token'), input, button, error);
  view.append(form);
  input.focus();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    error.hidden = true;
    session.save(token, null);
    try {
      const user = await api('/api/whoami', { signal });
      session.save(token, user);
      signedIn(user);
    } catch (failure) {
      session.clear();
      error.textContent = failure.status === 401 ? 'This token is not valid.' : failure.message;
      error.hidden = false;
      button.disabled = false;
      input.select();
    }
  });
}
