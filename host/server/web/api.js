// The admin API client: every request carries the session's bearer token, has a deadline, and
// turns the server's {"error": {code, message}} into an ApiError whose message is shown as is.
// A 401 ends the session (the token was revoked or the daemon restarted with other tokens).

import * as session from './session.js';

// Long enough for a busy daemon on a small machine, short enough that a dead one is reported
// while the user still waits.
const TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details; // the error object's other fields (e.g. a schedule error's "column")
  }
}

let onUnauthorized = () => {};

/** The app sends the user back to the login page with this. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** True for a request cancelled because its page was left: not an error to show. */
export function isAbort(error) {
  return error?.name === 'AbortError';
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the API. `path` starts with "/api/"; it is resolved against the page so the dashboard
 * also works behind a proxy under a sub-path. Resolves to the parsed JSON body (null when
 * empty); rejects with ApiError, or with an AbortError when `signal` aborts.
 */
export async function api(path, { method = 'GET', query, body, signal } = {}) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, TIMEOUT_MS);
  const forwardAbort = () => controller.abort();
  signal?.addEventListener('abort', forwardAbort, { once: true });

  const headers = { Accept: 'application/json' };
  const currentToken = session.token();
  if (currentToken) headers.Authorization = `Bearer ${currentToken}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response;
  let text;
  try {
    response = await fetch(`.${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) throw error;
    if (timedOut) throw new ApiError(0, 'timeout', `${method} ${path}: no answer within ${TIMEOUT_MS / 1000} s`);
    throw new ApiError(0, 'network', `${method} ${path}: the daemon cannot be reached (${error.message})`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forwardAbort);
  }

  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: reported below by status.
  }
  if (response.status === 401) {
    session.clear();
    onUnauthorized();
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? `http_${response.status}`,
                       error.message ?? `${method} ${path}: HTTP ${response.status}`, error);
  }
  return data;
}

/** The path segment for a job name ("a/b" must stay one segment). */
export function jobPath(name) {
  return `/api/jobs/${encodeURIComponent(name)}`;
}
