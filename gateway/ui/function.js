// A function's page: details, scaling, a live chart, decisions, logs, invoke, scale and delete.

import * as api from './api.js';
import { chart } from './chart.js';
import { confirmDialog, h, kv, parseLines, replace } from './dom.js';
import { latencySeries, rateSeries, record, recordLatency } from './stats.js';

const SCALE_PREFIX = 'com.openfaas.scale.';

export function functionView(root, name, setStatus) {
  const summary = h('div', { class: 'card', id: 'fn-summary' }, 'Loading…');
  const details = h('div', { class: 'grid' });
  const live = h('div', { id: 'fn-chart' });
  const decisions = h('div', { id: 'fn-decisions' }, h('p', { class: 'muted' }, 'Loading…'));
  const logs = h('pre', { id: 'fn-logs', tabindex: '0', 'aria-label': 'logs' }, 'Loading…');
  let current = null;

  const replicas = h('input', { id: 'scale-replicas', type: 'number', min: '0', max: '1000', value: '1' });
  const scaleForm = h('form', { id: 'scale-form', class: 'row', onsubmit: onScale },
    h('div', { class: 'grow' }, h('label', { for: 'scale-replicas' }, 'Replicas'), replicas),
    h('button', { id: 'scale-submit', type: 'submit' }, 'Scale'),
    h('button', { id: 'delete-button', type: 'button', class: 'danger', onclick: onDelete }, 'Delete'));

  replace(root,
    h('p', {}, h('a', { href: '#/' }, '← Functions')),
    h('h1', { id: 'fn-title' }, name),
    summary,
    h('div', { class: 'card' }, h('h2', {}, 'Scale or delete'), scaleForm),
    h('div', { class: 'card' }, h('h2', {}, 'Invoke'), invokePanel(name)),
    h('div', { class: 'card' }, h('h2', {}, 'Activity'), live),
    details,
    h('div', { class: 'card' }, h('h2', {}, 'Recent scaling decisions'), decisions),
    h('div', { class: 'card' }, h('h2', {}, 'Logs (last 50 lines)'), logs));

  async function onScale(e) {
    e.preventDefault();
    const n = Number(replicas.value);
    if (!Number.isInteger(n) || n < 0) { setStatus('replicas must be a whole number ≥ 0'); return; }
    if (!(await confirmDialog(`Scale ${name}`, `Scale ${name} to ${n} replica(s)?`, 'Scale'))) return;
    try {
      await api.scale(name, n);
      setStatus(`scaling ${name} to ${n}`);
      await refresh();
    } catch (err) { setStatus(`scale failed: ${err.message}`); }
  }

  async function onDelete() {
    if (!(await confirmDialog(`Delete ${name}`, `Delete ${name}? Its replicas are stopped.`, 'Delete'))) return;
    try {
      await api.remove(name);
      setStatus(`deleted ${name}`);
      location.hash = '#/';
    } catch (err) { setStatus(`delete failed: ${err.message}`); }
  }

  async function refresh() {
    let fn;
    try {
      fn = await api.getFunction(name);
    } catch (err) {
      replace(summary, h('p', { class: 'error', id: 'fn-error' }, err.message));
      return;
    }
    record([fn]);
    const first = current === null;
    current = fn;
    if (first) replicas.value = String(fn.replicas ?? 1);
    const ready = fn.availableReplicas ?? 0;
    replace(summary, h('dl', { class: 'kv' },
      h('dt', {}, 'Image'), h('dd', {}, fn.image),
      h('dt', {}, 'Replicas'), h('dd', { id: 'fn-replicas' }, `${ready} ready / ${fn.replicas} desired`),
      h('dt', {}, 'Invocations'), h('dd', {}, String(fn.invocationCount ?? 0)),
      h('dt', {}, 'fprocess'), h('dd', {}, fn.envProcess || '–'),
      h('dt', {}, 'Namespace'), h('dd', {}, fn.namespace || '–')));
    const labels = fn.labels || {};
    const scaling = Object.fromEntries(Object.entries(labels)
      .filter(([k]) => k.startsWith(SCALE_PREFIX)).map(([k, v]) => [k.slice(SCALE_PREFIX.length), v]));
    const limits = { ...(fn.limits || {}) };
    for (const [k, v] of Object.entries(fn.requests || {})) limits[`request ${k}`] = v;
    replace(details,
      section('Labels', kv(labels)),
      section('Annotations', kv(fn.annotations)),
      section('Environment', kv(fn.envVars)),
      section('Secrets', (fn.secrets || []).length
        ? h('ul', {}, fn.secrets.map((s) => h('li', {}, s))) : h('p', { class: 'muted' }, 'none')),
      section('Limits', kv(limits)),
      section('Scaling', Object.keys(scaling).length ? kv(scaling)
        : h('p', { class: 'muted' }, 'defaults (no com.openfaas.scale.* labels)')));
    replace(live, chart(rateSeries(name), latencySeries(name)));
    await Promise.all([refreshDecisions(), refreshLogs()]);
  }

  async function refreshDecisions() {
    try {
      const list = await api.scalingDecisions(name);
      if (list === null) {
        replace(decisions, h('p', { class: 'muted' }, 'not available: the gateway does not forward the alert-scaler’s decisions'));
        return;
      }
      const items = Array.isArray(list) ? list : (list.decisions || []);
      replace(decisions, items.length
        ? h('ul', {}, items.slice(-10).reverse().map((d) => h('li', {}, typeof d === 'string' ? d
          : [d.time || d.at || '', ' ', d.from ?? '', d.to !== undefined ? ` → ${d.to}` : '', ' ', d.reason || d.explanation || JSON.stringify(d)])))
        : h('p', { class: 'muted' }, 'none yet'));
    } catch (err) {
      replace(decisions, h('p', { class: 'muted' }, `not available (${err.message})`));
    }
  }

  async function refreshLogs() {
    try {
      const lines = await api.logs(name, 50);
      logs.textContent = lines.length
        ? lines.map((l) => `${l.timestamp ? `${l.timestamp} ` : ''}${l.instance ? `${l.instance.slice(0, 12)} ` : ''}${(l.text || '').replace(/\n$/, '')}`).join('\n')
        : '(no log lines)';
    } catch (err) {
      logs.textContent = `logs not available: ${err.message}`;
    }
  }

  return refresh;
}

function section(title, content) {
  return h('section', { class: 'card' }, h('h2', {}, title), content);
}

function invokePanel(name) {
  const field = (id, text, input) => h('div', { class: 'grow' }, h('label', { for: id }, text), input);
  const method = h('select', { id: 'invoke-method' }, ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', {}, m)));
  const path = h('input', { id: 'invoke-path', value: '/', autocomplete: 'off' });
  const query = h('input', { id: 'invoke-query', placeholder: 'a=1&b=2', autocomplete: 'off' });
  const headers = h('textarea', { id: 'invoke-headers', placeholder: 'Content-Type: text/plain' });
  const body = h('textarea', { id: 'invoke-body' });
  const isAsync = h('input', { id: 'invoke-async', type: 'checkbox', style: 'width:auto' });
  const out = h('div', { id: 'invoke-result', 'aria-live': 'polite' });
  const send = h('button', { id: 'invoke-send', type: 'submit' }, 'Invoke');

  async function onSubmit(e) {
    e.preventDefault();
    send.disabled = true;
    try {
      const r = await api.invoke(name, {
        method: method.value, path: path.value, query: query.value,
        headers: parseLines(headers.value, true), body: body.value, async: isAsync.checked,
      });
      if (!isAsync.checked) recordLatency(name, r.ms);
      replace(out,
        h('p', {}, h('strong', { id: 'invoke-status' }, `${r.status} ${r.statusText}`),
          ` in ${r.ms.toFixed(0)} ms`, r.callId ? [' · call id ', h('code', { id: 'invoke-call-id' }, r.callId)] : ''),
        h('details', {}, h('summary', {}, 'Response headers'), kv(Object.fromEntries(r.headers))),
        h('pre', { id: 'invoke-output', tabindex: '0' }, r.body || '(empty body)'));
    } catch (err) {
      replace(out, h('p', { class: 'error', id: 'invoke-status' }, `request failed: ${err.message}`));
    } finally {
      send.disabled = false;
    }
  }

  return h('form', { id: 'invoke-form', onsubmit: onSubmit },
    h('div', { class: 'row' }, field('invoke-method', 'Method', method), field('invoke-path', 'Path', path),
      field('invoke-query', 'Query', query)),
    h('div', { class: 'grid' }, field('invoke-headers', 'Headers (one "Name: value" a line)', headers),
      field('invoke-body', 'Body', body)),
    h('div', { class: 'row', style: 'margin-top:.6rem' },
      h('label', { for: 'invoke-async', style: 'display:flex;gap:.4rem;align-items:center;margin:0' }, isAsync,
        'Asynchronous (202 and a call id)'),
      send),
    out);
}
