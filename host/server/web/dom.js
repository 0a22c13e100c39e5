// Building and updating the page without innerHTML: every string becomes a text node or an
// attribute value, so nothing the API returns is ever parsed as markup. Also the timers that
// pages share (poll, debounce), which stop when the page's signal aborts.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setProps(el, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** h('a', {href, class, dataset: {job}, onclick}, 'text', childNode, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** The same for SVG elements (the durations chart). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/**
 * Makes `container`'s children match `items`, in order. An element is kept while its item's
 * key and signature are unchanged, so a list that refreshes every few seconds keeps focus,
 * typed text and the text selection; only changed items are rendered again.
 */
export function reconcile(container, items, keyOf, signatureOf, render) {
  const existing = new Map();
  for (const el of container.children) existing.set(el.dataset.key, el);
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    const signature = signatureOf(item);
    let el = existing.get(key);
    existing.delete(key);
    if (!el || el.dataset.signature !== signature) {
      const fresh = render(item);
      fresh.dataset.key = key;
      fresh.dataset.signature = signature;
      if (el) {
        if (el === cursor) cursor = fresh;
        el.replaceWith(fresh);
      }
      el = fresh;
    }
    if (el === cursor) cursor = cursor.nextElementSibling;
    else container.insertBefore(el, cursor);
  }
  for (const el of existing.values()) el.remove();
}

/**
 * Calls `fn` now and again `ms` after each call ends (never two at once), skipping turns while
 * the tab is hidden; stops when `signal` aborts. Errors go to `onError`.
 */
export function poll(fn, ms, signal, onError) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    if (!document.hidden) {
      try {
        await fn();
      } catch (error) {
        onError(error);
      }
    }
    if (!signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  tick();
}

/** fn, called `ms` after the last of a burst of calls (typing in a filter box). */
export function debounce(fn, ms, signal) {
  let timer = null;
  signal?.addEventListener('abort', () => clearTimeout(timer), { once: true });
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** An AbortController that also aborts with `parent` (one query of a page). */
export function childController(parent) {
  const controller = new AbortController();
  if (parent.aborted) controller.abort();
  else parent.addEventListener('abort', () => controller.abort(), { once: true });
  return controller;
}
