// A small inline SVG line chart of two series with their own scales.

import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 140;
const PAD = 6;

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function path(points, t0, t1, cls) {
  if (points.length < 1) return null;
  const max = Math.max(...points.map((p) => p.v), 1e-9);
  const span = Math.max(t1 - t0, 1);
  const d = points.map((p, i) => {
    const x = PAD + ((p.t - t0) / span) * (W - 2 * PAD);
    const y = H - PAD - (p.v / max) * (H - 2 * PAD);
    return `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(' ');
  return svg('path', { d, class: cls });
}

/// calls: [{t, v}] calls/s; latency: [{t, v}] ms.
export function chart(calls, latency) {
  const all = [...calls, ...latency];
  const t1 = Date.now();
  const t0 = all.length ? Math.min(...all.map((p) => p.t)) : t1 - 60000;
  const el = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': 'calls per second and latency' });
  for (const p of [path(calls, t0, t1, 'calls'), path(latency, t0, t1, 'lat')]) if (p) el.append(p);
  const last = (s, unit, digits) => (s.length ? `${s[s.length - 1].v.toFixed(digits)} ${unit}` : 'no data');
  return h('figure', { style: 'margin:0' }, el,
    h('figcaption', { class: 'hint' },
      `— calls/s (from invocationCount polls): ${last(calls, '/s', 2)}; `,
      `- - latency of calls from this page: ${last(latency, 'ms', 0)}`));
}
