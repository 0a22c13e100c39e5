// The signed-in user: the API token and who it belongs to, kept in sessionStorage so a reload
// keeps the session and closing the tab ends it. Role checks mirror the server's roles; the
// server enforces them, these only decide what the page offers.

const TOKEN_KEY = 'cronhost.token';
const USER_KEY = 'cronhost.user';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** {name, role} from GET /api/whoami, or null before the token is checked. */
export function user() {
  try {
    return JSON.parse(sessionStorage.getItem(USER_KEY));
  } catch {
    return null;
  }
}

export function save(newToken, whoami) {
  sessionStorage.setItem(TOKEN_KEY, newToken);
  if (whoami) sessionStorage.setItem(USER_KEY, JSON.stringify(whoami));
  else sessionStorage.removeItem(USER_KEY);
}

export function clear() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

function role() {
  return user()?.role ?? 'viewer';
}

/** Trigger, enable, disable, schedule edits. */
export function canOperate() {
  return role() === 'operator' || role() === 'admin';
}

/** Approve and cancel approvals. */
export function canApprove() {
  return role() === 'approver' || role() === 'admin';
}
