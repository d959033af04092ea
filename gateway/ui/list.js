// The function list: name, image, replicas ready/desired, invocations and rate.

import { listFunctions } from './api.js';
import { h, replace } from './dom.js';
import { rate, record } from './stats.js';

export function listView(root) {
  const body = h('tbody', { id: 'functions-body' });
  const empty = h('p', { class: 'muted', id: 'functions-empty', hidden: true }, 'No functions yet. ',
    h('a', { href: '#/deploy' }, 'Deploy one'), '.');
  replace(root,
    h('div', { class: 'row' }, h('h1', { class: 'grow' }, 'Functions'),
      h('a', { class: 'button', href: '#/deploy', id: 'deploy-link' }, 'Deploy a function')),
    h('div', { class: 'card' },
      h('table', { id: 'functions' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Name'),
          h('th', { scope: 'col', class: 'hide-sm' }, 'Image'),
          h('th', { scope: 'col', class: 'num' }, 'Ready / desired'),
          h('th', { scope: 'col', class: 'num' }, 'Invocations'),
          h('th', { scope: 'col', class: 'num' }, 'Calls/s'))),
        body),
      empty));

  async function refresh() {
    const fns = await listFunctions();
    record(fns);
    fns.sort((a, b) => a.name.localeCompare(b.name));
    empty.hidden = fns.length > 0;
    replace(body, fns.map((fn) => {
      const ready = fn.availableReplicas ?? 0;
      const r = rate(fn.name);
      return h('tr', { 'data-function': fn.name },
        h('td', {}, h('a', { href: `#/function/${encodeURIComponent(fn.name)}` }, fn.name)),
        h('td', { class: 'hide-sm' }, h('code', {}, fn.image)),
        h('td', { class: 'num replicas' },
          h('span', { class: `badge ${ready >= 1 && ready >= fn.replicas ? 'ok' : 'warn'}` },
            `${ready} / ${fn.replicas}`)),
        h('td', { class: 'num' }, String(fn.invocationCount ?? 0)),
        h('td', { class: 'num' }, r === null ? '–' : r.toFixed(2)));
    }));
  }
  return refresh;
}
