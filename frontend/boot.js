// Loads the WebAssembly app. A file rather than an inline script, so the page
// runs under a Content-Security-Policy without 'unsafe-inline'.
import init from './jouleprint-frontend.js';

const fail = (e) => {
  const p = document.getElementById('boot');
  if (p) p.textContent = 'The estimator could not start in this browser: ' + e;
  console.error(e);
};

init({ module_or_path: new URL('./jouleprint-frontend_bg.wasm', import.meta.url) })
  .then(() => document.getElementById('boot')?.remove())
  .catch(fail);
