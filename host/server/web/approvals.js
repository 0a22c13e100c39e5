// The approvals page: pending ones first, each approvable with a note or cancellable; the list
// refreshes every few seconds without disturbing a note being typed.

import { api } from './api.js';
import { h, poll, reconcile } from './dom.js';
import { compact, jobHref, refreshTimes, statusBadge, timeEl } from './format.js';
import { refreshPending, setPending } from './badge.js';
import { reportError, showInfo } from './notify.js';
import { canApprove } from './session.js';

const POLL_MS = 5000;
// A second click within this time confirms a cancel (no blocking confirm() dialog).
const CONFIRM_MS = 4000;
const ORDER = { PENDING: 0, APPROVED: 1, FAILED: 2, EXECUTED: 3, SUPERSEDED: 4 };

function sorted(approvals) {
  return [...approvals].sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || b.id - a.id);
}

function signature(approval) {
  return [approval.status, approval.decided_at, approval.executed_at, approval.closed_at, approval.notes].join('|');
}

function approvalCard(approval) {
  const allowed = canApprove();
  const pending = approval.status === 'PENDING';
  const open = pending || approval.status === 'APPROVED';
  const noteId = `note-${approval.id}`;
  const blocked = allowed ? null : 'Needs the approver role';
  return h('article', { class: `approval card${pending ? ' is-pending' : ''}`,
                        dataset: { approval: approval.id, status: approval.status } },
    h('div', { class: 'approval-head' },
      h('h2', { class: 'approval-title' }, approval.title || `${approval.kind} ${approval.key}`),
      statusBadge(approval.status)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Job'), h('dd', {}, h('a', { href: jobHref(approval.job) }, approval.job)),
      h('dt', {}, 'Kind / key'), h('dd', {}, h('code', {}, `${approval.kind} / ${approval.key}`)),
      h('dt', {}, 'Requested'), h('dd', {}, timeEl(approval.requested_at), ` (#${approval.id})`),
      approval.decided_by ? [h('dt', {}, 'Decided'),
        h('dd', { class: 'decided' }, `by ${approval.decided_by} `, timeEl(approval.decided_at))] : null,
      approval.executed_at ? [h('dt', {}, 'Executed'), h('dd', {}, timeEl(approval.executed_at))] : null,
      approval.superseded_by ? [h('dt', {}, 'Superseded'),
        h('dd', {}, `by #${approval.superseded_by} `, timeEl(approval.closed_at))] : null,
      approval.status === 'FAILED' && approval.closed_at
        ? [h('dt', {}, 'Failed'), h('dd', {}, timeEl(approval.closed_at))] : null,
      approval.notes ? [h('dt', {}, 'Notes'), h('dd', { class: 'approval-notes' }, approval.notes)] : null,
      approval.payload && Object.keys(approval.payload).length
        ? [h('dt', {}, 'Payload'), h('dd', {}, h('code', { class: 'clip-lines' }, compact(approval.payload)))] : null),
    open ? h('form', { class: 'approval-actions' },
      pending ? [
        h('label', { for: noteId, class: 'visually-hidden' }, 'Note'),
        h('input', { id: noteId, class: 'approval-note', type: 'text', placeholder: 'Note (optional)',
                     disabled: !allowed, autocomplete: 'off' }),
        h('button', { type: 'submit', class: 'button primary approve', disabled: !allowed, title: blocked }, 'Approve'),
      ] : null,
      h('button', { type: 'button', class: 'button danger cancel-approval', disabled: !allowed, title: blocked },
        'Cancel')) : null);
}

export function render(view, { signal }) {
  document.title = 'Approvals · cronhost';
  const list = h('div', { id: 'approvals-list', class: 'approvals' });
  const empty = h('p', { class: 'empty', id: 'approvals-empty', hidden: true }, 'No approvals yet.');
  const count = h('span', { class: 'muted', id: 'approvals-count' });
  view.append(h('div', { class: 'page-head' }, h('h1', {}, 'Approvals'), count), list, empty);

  async function load() {
    const answer = await api('/api/approvals', { signal });
    const approvals = sorted(answer.approvals);
    reconcile(list, approvals, (approval) => approval.id, signature, approvalCard);
    refreshTimes(list);
    empty.hidden = approvals.length > 0;
    const pending = answer.pending ?? approvals.filter((a) => a.status === 'PENDING').length;
    count.textContent = `${pending} pending of ${approvals.length}`;
    setPending(pending);
  }

  async function act(button, request, message) {
    button.disabled = true;
    try {
      await api(...request);
      showInfo(message);
    } catch (error) {
      reportError(error);
      button.disabled = false;
    }
    await Promise.all([load(), refreshPending(signal)]).catch(reportError);
  }

  list.addEventListener('submit', (event) => {
    event.preventDefault();
    const card = event.target.closest('[data-approval]');
    const id = card.dataset.approval;
    const note = card.querySelector('.approval-note').value.trim();
    act(card.querySelector('.approve'), [`/api/approvals/${id}/approve`, { method: 'POST', body: { note }, signal }],
        `Approved #${id}`);
  });

  list.addEventListener('click', (event) => {
    const button = event.target.closest('.cancel-approval');
    if (!button) return;
    if (!button.classList.contains('confirming')) {
      button.classList.add('confirming');
      button.textContent = 'Confirm cancel';
      setTimeout(() => {
        button.classList.remove('confirming');
        button.textContent = 'Cancel';
      }, CONFIRM_MS);
      return;
    }
    const id = button.closest('[data-approval]').dataset.approval;
    act(button, [`/api/approvals/${id}`, { method: 'DELETE', signal }], `Cancelled #${id}`);
  });

  poll(load, POLL_MS, signal, reportError);
}
