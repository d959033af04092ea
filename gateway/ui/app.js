// Entry point: hash routing (#/, #/deploy, #/function/<name>) and polling without reloads.

import { deployView } from './deploy.js';
import { functionView } from './function.js';
import { listView } from './list.js';

const POLL_MS = 3000;
const view = document.getElementById('view');
const status = document.getElementById('status');
let refresh = null;
let timer = null;
let generation = 0;

function setStatus(text) {
  status.textContent = text;
}

async function tick(gen) {
  if (!refresh || gen !== generation) return;
  try {
    await refresh();
    if (gen === generation) view.dataset.loaded = 'true';
  } catch (err) {
    setStatus(`cannot reach the gateway: ${err.message}`);
  }
  if (gen === generation) timer = setTimeout(() => tick(gen), POLL_MS);
}

function route() {
  clearTimeout(timer);
  generation += 1;
  delete view.dataset.loaded;
  const hash = location.hash || '#/';
  const fn = /^#\/function\/(.+)$/.exec(hash);
  if (hash === '#/deploy') {
    refresh = deployView(view, setStatus);
    document.title = 'Deploy · ironfaas';
  } else if (fn) {
    const name = decodeURIComponent(fn[1]);
    refresh = functionView(view, name, setStatus);
    document.title = `${name} · ironfaas`;
  } else {
    refresh = listView(view);
    document.title = 'Functions · ironfaas';
  }
  view.dataset.view = hash === '#/deploy' ? 'deploy' : fn ? 'function' : 'list';
  tick(generation);
}

window.addEventListener('hashchange', route);
route();
