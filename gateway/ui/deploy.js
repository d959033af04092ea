// The deploy form: the API's validation messages appear next to the field they name.

import * as api from './api.js';
import { h, parseLines, replace } from './dom.js';

/// The API's field paths (`invalid FunctionDeployment: <path>: ...`) to the form's inputs.
const FIELDS = {
  service: 'name', image: 'image', envProcess: 'fprocess', envVars: 'env', labels: 'labels',
  annotations: 'annotations', secrets: 'secrets', 'limits.memory': 'limits-memory',
  'limits.cpu': 'limits-cpu', limits: 'limits-memory',
};
/// Words that name a field in messages without a path (e.g. from the provider).
const WORDS = [[/function name|service/i, 'name'], [/image/i, 'image'], [/secret/i, 'secrets'],
  [/memory/i, 'limits-memory'], [/cpu/i, 'limits-cpu'], [/label/i, 'labels'],
  [/annotation/i, 'annotations'], [/fprocess|envProcess/i, 'fprocess'], [/env/i, 'env']];

export function fieldOf(message) {
  const m = /^invalid \w+: ([A-Za-z0-9_.[\]/-]+): /.exec(message);
  if (m) {
    const path = m[1];
    const hit = FIELDS[path] || FIELDS[path.split(/[.[]/)[0]];
    if (hit) return hit;
  }
  for (const [re, id] of WORDS) if (re.test(message)) return id;
  return null;
}

export function deployView(root, setStatus) {
  const inputs = {};
  const errors = {};
  const field = (id, label, input, hint) => {
    input.id = `f-${id}`;
    input.name = id;
    input.setAttribute('aria-describedby', `f-${id}-error`);
    inputs[id] = input;
    errors[id] = h('p', { class: 'error', id: `f-${id}-error`, hidden: true });
    return h('div', { class: 'grow' }, h('label', { for: input.id }, label), input,
      hint ? h('p', { class: 'hint' }, hint) : null, errors[id]);
  };
  const secretsHint = h('span', {}, '');
  const update = h('input', { id: 'f-update', type: 'checkbox', style: 'width:auto' });
  const general = h('p', { class: 'error', id: 'f-error', hidden: true, role: 'alert' });
  const submit = h('button', { id: 'deploy-submit', type: 'submit' }, 'Deploy');
  const form = h('form', { id: 'deploy-form', class: 'card', onsubmit: onSubmit, novalidate: true },
    h('div', { class: 'grid' },
      field('name', 'Name', h('input', { required: true, autocomplete: 'off' }), 'lower-case letters, digits and -'),
      field('image', 'Image', h('input', { required: true, autocomplete: 'off' })),
      field('fprocess', 'fprocess', h('input', { autocomplete: 'off' }), 'the process the watchdog forks per call')),
    h('div', { class: 'grid' },
      field('env', 'Environment', h('textarea', {}), 'one KEY=value a line'),
      field('labels', 'Labels', h('textarea', {}), 'one key=value a line, e.g. com.openfaas.scale.min=1'),
      field('annotations', 'Annotations', h('textarea', {}), 'one key=value a line')),
    h('div', { class: 'grid' },
      field('secrets', 'Secrets', h('input', { autocomplete: 'off' }), secretsHint),
      field('limits-memory', 'Memory limit', h('input', { placeholder: '128Mi', autocomplete: 'off' })),
      field('limits-cpu', 'CPU limit', h('input', { placeholder: '0.5', autocomplete: 'off' }))),
    h('div', { class: 'row', style: 'margin-top:.8rem' },
      h('label', { for: 'f-update', style: 'display:flex;gap:.4rem;align-items:center;margin:0' }, update,
        'Update an existing function (PUT)'),
      submit),
    general);
  replace(root, h('h1', {}, 'Deploy a function'), form);
  inputs.name.focus();
  api.listSecrets().then((s) => {
    secretsHint.textContent = `comma-separated; existing: ${s.map((x) => x.name).join(', ') || 'none'}`;
  }).catch(() => { secretsHint.textContent = 'comma-separated secret names'; });

  function clearErrors() {
    for (const [id, el] of Object.entries(errors)) {
      el.hidden = true;
      el.textContent = '';
      inputs[id].removeAttribute('aria-invalid');
    }
    general.hidden = true;
  }

  function showError(message) {
    const id = fieldOf(message);
    const el = id ? errors[id] : general;
    el.textContent = message;
    el.hidden = false;
    if (id) {
      inputs[id].setAttribute('aria-invalid', 'true');
      inputs[id].focus();
    }
  }

  async function onSubmit(e) {
    e.preventDefault();
    clearErrors();
    const v = (id) => inputs[id].value.trim();
    const fn = {
      service: v('name'), image: v('image'), envProcess: v('fprocess'),
      envVars: parseLines(inputs.env.value), labels: parseLines(inputs.labels.value),
      annotations: parseLines(inputs.annotations.value),
      secrets: v('secrets').split(',').map((s) => s.trim()).filter(Boolean),
    };
    if (v('limits-memory') || v('limits-cpu')) fn.limits = { memory: v('limits-memory'), cpu: v('limits-cpu') };
    submit.disabled = true;
    try {
      await api.deploy(fn, update.checked);
      setStatus(`deployed ${fn.service}`);
      location.hash = `#/function/${encodeURIComponent(fn.service)}`;
    } catch (err) {
      showError(err.message);
    } finally {
      submit.disabled = false;
    }
  }
  return null;
}
