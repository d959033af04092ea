// Rates from successive polls: the list API's invocationCount, sampled every poll, per function.

const KEEP = 60;
const history = new Map();
const latencies = new Map();

/// Records a poll of the list; call once per list fetch.
export function record(functions, now = Date.now()) {
  for (const fn of functions) {
    const h = history.get(fn.name) || [];
    h.push({ t: now, count: fn.invocationCount || 0 });
    if (h.length > KEEP) h.shift();
    history.set(fn.name, h);
  }
}

/// Calls per second over the last two polls, or null before there are two.
export function rate(name) {
  const h = history.get(name);
  if (!h || h.length < 2) return null;
  const [a, b] = h.slice(-2);
  const dt = (b.t - a.t) / 1000;
  return dt > 0 ? Math.max(0, (b.count - a.count) / dt) : null;
}

/// Calls/s points for the chart: [{t, v}].
export function rateSeries(name) {
  const h = history.get(name) || [];
  const out = [];
  for (let i = 1; i < h.length; i++) {
    const dt = (h[i].t - h[i - 1].t) / 1000;
    if (dt > 0) out.push({ t: h[i].t, v: Math.max(0, (h[i].count - h[i - 1].count) / dt) });
  }
  return out;
}

/// Latency of calls made from this page (the gateway's histogram is on its metrics port).
export function recordLatency(name, ms, now = Date.now()) {
  const l = latencies.get(name) || [];
  l.push({ t: now, v: ms });
  if (l.length > KEEP) l.shift();
  latencies.set(name, l);
}

export const latencySeries = (name) => latencies.get(name) || [];
