// Shared helpers of the estimator page tests.
const { expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = process.env.JOULEPRINT_ROOT || path.resolve(__dirname, '..', '..');
const BIN = process.env.JOULEPRINT_BIN || path.join(ROOT, 'target', 'release', 'jouleprint');
const SHOTS = path.join(__dirname, '..', 'test-results', 'screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

/** Collects page errors, console errors and CSP violations of a page. */
function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()} ${JSON.stringify(m.location())}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return problems;
}

/** Open the page and wait for the first estimate and its share link. */
async function open(page, url = '/') {
  await page.goto(url);
  await expect(page.locator('#energy-kwh')).toBeVisible();
  await expect(page.locator('#share-url')).toHaveValue(/#s=1\./);
}

/** The share link once it follows the current inputs. */
async function shareUrl(page) {
  await page.waitForTimeout(250);
  return page.locator('#share-url').inputValue();
}

async function value(page, sel, attr = 'data-value') {
  const v = await page.locator(sel).first().getAttribute(attr);
  return Number(v);
}

/** The headline numbers of the page, full precision. */
async function numbers(page) {
  return {
    energy_kwh: await value(page, '#energy-kwh'),
    co2e_kg: await value(page, '#co2e-kg'),
    device_hours: await value(page, '#gpu-hours'),
    wall_hours: await value(page, '#wall-hours'),
    flops_per_step: await value(page, '#flops-per-step'),
    params: await value(page, '#params'),
  };
}

/** The numbers of the CLI's estimate for a scenario. */
function cli(scenario) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jp-e2e-'));
  const f = path.join(dir, 'scenario.json');
  fs.writeFileSync(f, JSON.stringify(scenario));
  const out = execFileSync(BIN, ['estimate', f, '--json'], { encoding: 'utf8' });
  const e = JSON.parse(out);
  return {
    energy_kwh: e.energy_kwh.expected,
    co2e_kg: e.co2e_kg.expected,
    device_hours: e.device_hours.expected,
    wall_hours: e.wall_hours.expected,
    flops_per_step: e.flops_per_step,
    params: e.params,
    raw: e,
  };
}

function close(a, b, rel = 1e-9) {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

function expectClose(actual, expected, what, rel = 1e-9) {
  expect(close(actual, expected, rel), `${what}: page ${actual} vs expected ${expected}`).toBe(true);
}

/** The scenario JSON export (a download), parsed. */
async function exportedScenario(page) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const p = await dl.path();
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

/** Type into a field (replacing its text) and wait for the page to settle. */
async function setField(page, sel, text) {
  await page.fill(sel, text);
  await page.waitForTimeout(50);
}

/** The scenario inside a share link (`...#s=1.<base64url(zlib(JSON))>`). */
function decodeLink(url) {
  const p = url.split('#s=')[1];
  const body = p.slice(p.indexOf('.') + 1);
  return JSON.parse(zlib.inflateSync(Buffer.from(body, 'base64url')).toString('utf8'));
}

/** A share link fragment for any JSON text or value, as another page would make it. */
function linkFor(scenario) {
  const text = typeof scenario === 'string' ? scenario : JSON.stringify(scenario);
  return '#s=1.' + zlib.deflateSync(Buffer.from(text, 'utf8')).toString('base64url');
}

/** The CLI's refusal of a scenario: its `field: message` pairs (exit status 2). */
function cliErrors(scenario) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jp-e2e-'));
  const f = path.join(dir, 'scenario.json');
  fs.writeFileSync(f, typeof scenario === 'string' ? scenario : JSON.stringify(scenario));
  try {
    execFileSync(BIN, ['estimate', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // `error: FILE has N problems:` then one `  field: message` per line
    const out = {};
    for (const line of String(e.stderr).split('\n')) {
      if (!line.startsWith('  ')) continue;
      const part = line.slice(2);
      const i = part.indexOf(': ');
      out[part.slice(0, i)] = part.slice(i + 2);
    }
    return out;
  }
  throw new Error('the CLI accepted the scenario');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Serves frontend/dist as plain static files (no API) on a free loopback port; resolves to its base URL and a close(). */
async function staticServer() {
  const http = require('node:http');
  const dist = path.join(ROOT, 'frontend', 'dist');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const f = path.join(dist, p === '/' ? 'index.html' : p);
    if (!f.startsWith(dist) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(f)] || 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

module.exports = { staticServer, decodeLink, linkFor, cliErrors, shareUrl, ROOT, BIN, SHOTS, watch, open, value, numbers, cli, close, expectClose, exportedScenario, setField, shot };
