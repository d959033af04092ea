// The gateway's own API, by relative URLs (the browser sends the basic-auth credentials).

const base = new URL('../', import.meta.url);

export function url(path) {
  return new URL(path, base).toString();
}

export class ApiError extends Error {
  constructor(status, text) {
    super(text.trim() || `HTTP ${status}`);
    this.status = status;
  }
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url(path), init);
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, text);
  return text;
}

const json = (text) => (text ? JSON.parse(text) : null);

export const listFunctions = async () => json(await call('GET', 'system/functions')) || [];
export const getFunction = async (name) =>
  json(await call('GET', `system/function/${encodeURIComponent(name)}`));
export const listSecrets = async () => json(await call('GET', 'system/secrets')) || [];
export const deploy = (fn, update) => call(update ? 'PUT' : 'POST', 'system/functions', fn);
export const remove = (name) => call('DELETE', 'system/functions', { functionName: name });
export const scale = (name, replicas) =>
  call('POST', `system/scale-function/${encodeURIComponent(name)}`, { serviceName: name, replicas });

/// The tail of a function's logs: one JSON message per line.
export async function logs(name, tail = 50) {
  const q = new URLSearchParams({ name, tail: String(tail), follow: 'false' });
  const text = await call('GET', `system/logs?${q}`);
  return text.split('\n').filter((l) => l.trim()).map((l) => {
    try { return JSON.parse(l); } catch { return { text: l }; }
  });
}

/// The alert-scaler's decisions when the gateway forwards them; null when it does not.
export async function scalingDecisions(name) {
  try {
    return json(await call('GET', `system/scaling-decisions?function=${encodeURIComponent(name)}`));
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 501) return null;
    throw e;
  }
}

/// Invokes a function; never throws for an HTTP status, only for a network failure.
export async function invoke(name, { method, path, query, headers, body, async: isAsync }) {
  const prefix = isAsync ? 'async-function' : 'function';
  let target = `${prefix}/${encodeURIComponent(name)}`;
  if (path && path !== '/') target += path.startsWith('/') ? path : `/${path}`;
  if (query) target += `?${query.replace(/^\?/, '')}`;
  const init = { method, headers };
  if (body && method !== 'GET' && method !== 'HEAD') init.body = body;
  const started = performance.now();
  const res = await fetch(url(target), init);
  const text = await res.text();
  return {
    status: res.status,
    statusText: res.statusText,
    headers: [...res.headers.entries()],
    body: text,
    ms: performance.now() - started,
    callId: res.headers.get('X-Call-Id'),
  };
}
