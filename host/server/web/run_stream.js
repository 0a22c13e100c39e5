// A run's output as it is written: GET /api/runs/{id}/output/stream (server-sent events) read
// with fetch, because EventSource cannot send the session's bearer token. The host closes a
// stream every 25 s (its connection guard's deadline); this reconnects with Last-Event-ID
// so nothing arrives twice, and after a network error it retries with a growing pause.
// When the host refuses a stream (503: its stream slots are taken) it falls back to reading
// GET /api/runs/{id} every few seconds, passing on only the output not seen yet.

import { api, ApiError, isAbort } from './api.js';
import * as session from './session.js';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10000;
const FALLBACK_POLL_MS = 3000;
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'interrupted']);

/** Splits a text/event-stream body into events: {event, id, data}. Keeps partial input. */
export function createEventParser(onEvent) {
  let buffer = '';
  let event = { event: 'message', id: null, data: [] };
  function line(text) {
    if (text === '') {
      if (event.data.length) onEvent({ event: event.event, id: event.id, data: event.data.join('\n') });
      event = { event: 'message', id: null, data: [] };
      return;
    }
    if (text.startsWith(':')) return; // a keepalive comment
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event.event = value;
    else if (field === 'id') event.id = value;
    else if (field === 'data') event.data.push(value);
  }
  return (chunk) => {
    buffer += chunk;
    let at;
    while ((at = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const length = buffer[at] === '\r' && buffer[at + 1] === '\n' ? 2 : 1;
      if (buffer[at] === '\r' && at + 1 === buffer.length) break; // maybe \r\n split across chunks
      line(buffer.slice(0, at));
      buffer = buffer.slice(at + length);
    }
  };
}

/**
 * Follows run `id`'s output until it ends or `signal` aborts. Calls onText(text) for each new
 * piece, onDropped(bytes) when older output was no longer kept, onEnd({status, error}) once,
 * and onState('streaming' | 'reconnecting' | 'polling' | 'ended').
 */
export function followOutput(id, { signal, onText, onDropped = () => {}, onEnd = () => {}, onState = () => {} }) {
  let offset = 0; // bytes of output seen: the Last-Event-ID of a reconnect
  let ended = false;
  let pause = RETRY_MIN_MS;

  const wait = (ms) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });

  function handle({ event, id: eventId, data }) {
    const body = JSON.parse(data);
    if (event === 'output') {
      onText(body.text);
      if (eventId !== null) offset = Number(eventId);
    } else if (event === 'dropped') {
      onDropped(body.bytes);
    } else if (event === 'end') {
      ended = true;
      onState('ended');
      onEnd(body);
    }
  }

  async function streamOnce() {
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token()}` };
    if (offset > 0) headers['Last-Event-ID'] = String(offset);
    const response = await fetch(`./api/runs/${id}/output/stream`, { headers, signal, cache: 'no-store' });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message; } catch { /* not JSON */ }
      throw new ApiError(response.status, `http_${response.status}`, message);
    }
    onState('streaming');
    pause = RETRY_MIN_MS;
    const parse = createEventParser(handle);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || ended) break;
      parse(value);
    }
  }

  // The stored output, for when no stream slot is free: only the part past `offset`.
  async function pollOnce() {
    const run = await api(`/api/runs/${id}`, { signal });
    const bytes = new TextEncoder().encode(run.output ?? '');
    if (bytes.length > offset) {
      onText(new TextDecoder().decode(bytes.slice(offset)));
      offset = bytes.length;
    }
    if (FINAL.has(run.status)) {
      ended = true;
      onState('ended');
      onEnd({ status: run.status, error: run.error });
    }
  }

  (async () => {
    let polling = false;
    while (!ended && !signal.aborted) {
      try {
        if (polling) {
          await pollOnce();
          if (!ended) await wait(FALLBACK_POLL_MS);
          continue;
        }
        await streamOnce();
        if (!ended && !signal.aborted) onState('reconnecting'); // the host's planned close
      } catch (error) {
        if (signal.aborted || isAbort(error)) return;
        if (error.status === 401 || error.status === 403 || error.status === 404) {
          onState('ended');
          onEnd({ status: null, error: error.message });
          return;
        }
        if (error.status === 503) {
          polling = true;
          onState('polling');
          continue;
        }
        onState('reconnecting');
        await wait(pause);
        pause = Math.min(pause * 2, RETRY_MAX_MS);
      }
    }
  })();
}
