// The token and the API: Bearer headers for fetches, ?token= for <video> sources.
const KEY = "nvr-edge-token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// No answer at all (the network, a box restarting): fetch's own error, named.
export class NoAnswer extends Error {}

async function send(path, init) {
  try {
    return await fetch(path, init);
  } catch (error) {
    throw new NoAnswer(`the box does not answer (${error.message})`);
  }
}

// A token in the URL (#token=... or ?token=...) is kept for this tab and taken out of the
// address bar, so it does not stay in the history or get copied along with the link.
export function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const fromHash = new URLSearchParams(url.hash.slice(1)).get("token");
  const fromQuery = url.searchParams.get("token");
  const token = fromHash || fromQuery;
  if (token) {
    sessionStorage.setItem(KEY, token);
    if (fromHash) url.hash = ""; // a view's hash (#system) stays
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function bearer() {
  return { Authorization: `Bearer ${token()}` };
}

export async function getJson(path) {
  return answer(await send(path, { headers: bearer() }));
}

// A JSON body with the token: PATCH /api/config, POST /api/commands/<name>.
export async function sendJson(method, path, body, type = "application/json") {
  const headers = { ...bearer(), "Content-Type": type };
  return answer(await send(path, { method, headers, body: JSON.stringify(body) }));
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || response.statusText);
  }
  return body;
}

export function mediaUrl(path) {
  return `${path}?token=${encodeURIComponent(token())}`;
}
