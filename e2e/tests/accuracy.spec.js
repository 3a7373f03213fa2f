// Beside the estimate: the accuracy on measured runs of its device and
// software class (`GET /api/accuracy`), and the "not verified" warning of a
// stored link. These tests start their own `jouleprint serve` on a fresh
// database (the shared one may hold runs from elsewhere), submit runs with
// tokens made by `jouleprint token create`, and compute the expected figures
// themselves from the submitted measurements and the CLI's estimate of the
// same step.
const { test, expect } = require('@playwright/test');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

const DIST = path.join(h.ROOT, 'frontend', 'dist');
const DB_URL = process.env.JOULEPRINT_DATABASE_URL;

/** The URL of another database on the same Postgres. */
function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function psql(sql) {
  execFileSync('psql', [withDatabase(DB_URL, 'postgres'), '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'pipe' });
}

/** `jouleprint serve` on a new database, with frontend/dist; its base URL. */
async function startServer() {
  const db = `jp_e2e_acc_${crypto.randomBytes(6).toString('hex')}`;
  psql(`CREATE DATABASE ${db}`);
  const dbUrl = withDatabase(DB_URL, db);
  // this test scores two contributors; the service's default quorum is three tokens
  const env = {
    ...process.env,
    JOULEPRINT_DATABASE_URL: dbUrl,
    JOULEPRINT_WORKERS: '2',
    JOULEPRINT_PROFILE_MIN_TOKENS: '2',
  };
  const proc = spawn(h.BIN, ['serve', '--host', '127.0.0.1', '--port', '0', '--static-dir', DIST], {
    cwd: h.ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`jouleprint serve did not start:\n${log}`)), 60_000);
    const read = (b) => {
      log += b.toString();
      // the whole line: a pipe may hand the address over in two chunks
      const m = log.match(/listening on (http:\/\/[0-9.]+:[0-9]+)\r?\n/);
      if (m) { clearTimeout(t); resolve(m[1]); }
    };
    proc.stdout.on('data', read);
    proc.stderr.on('data', read);
    proc.on('exit', (c) => { clearTimeout(t); reject(new Error(`jouleprint serve exited (${c}):\n${log}`)); });
  });
  return { db, dbUrl, env, proc, url };
}

async function stopServer(s) {
  if (!s) return;
  s.proc.removeAllListeners('exit');
  s.proc.kill();
  await new Promise((r) => (s.proc.exitCode !== null ? r() : s.proc.on('exit', r)));
  psql(`DROP DATABASE IF EXISTS ${s.db} WITH (FORCE)`);
}

function token(s, name) {
  return execFileSync(h.BIN, ['token', 'create', '--name', name], {
    cwd: h.ROOT, env: s.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** GPT-2 small, one training step of 8 x 1,024 tokens in bf16 with AdamW, eager PyTorch on an H100 SXM. */
const WORKLOAD = { model: { preset: 'gpt2' }, phase: 'train', precision: 'bf16', batch: 8, seq: 1024, optimizer: 'adamw' };

/** The same step as a scenario written out here, estimated by the CLI: J and s per step with their ranges. */
function estimateOfTheStep() {
  const e = h.cli({
    version: 1, model: WORKLOAD.model, software: 'pytorch-eager',
    stages: [{ kind: 'final_training', steps: 1, workload: { phase: 'train', precision: 'bf16', batch: 8, seq: 1024, optimizer: 'adamw' } }],
    hardware: { device: 'h100-sxm', count: 1 },
  }).raw;
  return { joules: e.joules_per_step, seconds: e.seconds_per_step };
}

async function submit(s, tok, joules, seconds) {
  const steps = 40;
  const body = {
    run_id: crypto.randomUUID(),
    case: { name: 'gpt2 train', device: 'NVIDIA H100 80GB HBM3', framework: 'pytorch-eager', ...WORKLOAD,
      measured: { joules_per_step: joules, seconds_per_step: seconds } },
    steps,
    window_s: seconds * steps,
    environment: { power_limit_w: 700, energy_source: 'counter', counter_update_period_s: 0.02 },
    measured_at: '2026-11-30T12:00:00Z',
  };
  const r = await fetch(`${s.url}/api/runs`, {
    method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  expect(r.status, text).toBe(201);
  expect(JSON.parse(text).status, text).toBe('accepted');
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** A share as the summary writes it (`9%`, `under 1%`). */
function pct(x) {
  return x < 0.01 ? 'under 1%' : `${Math.round(x * 100)}%`;
}

const line = (page) => page.locator('#accuracy .accuracy-line[data-device="h100-sxm"][data-software="pytorch-eager"]');

test.describe.serial('accuracy beside the estimate', () => {
  let server;
  test.beforeAll(async () => {
    expect(DB_URL, 'JOULEPRINT_DATABASE_URL (scripts/e2e.sh sets it)').toBeTruthy();
    server = await startServer();
  });
  test.afterAll(async () => { await stopServer(server); });

  test('(a) no measured runs yet: the none-yet sentence and how to add one', async ({ page }) => {
    const problems = h.watch(page);
    await h.open(page, `${server.url}/`);
    const l = line(page);
    await expect(l).toContainText('No measured runs on the NVIDIA H100 SXM5 80GB (pytorch-eager) yet: here is how to add one');
    await expect(l).toHaveAttribute('data-runs', '0');
    await expect(l.locator('.runs-link')).toHaveCount(0);
    await l.locator('summary').click();
    await expect(l.locator('.measure-command')).toHaveText(
      `jouleprint measure --scenario scenario.json --software pytorch-eager --submit ${server.url} -- python train.py`);
    await h.shot(page, 'accuracy-none-yet');
    expect(problems).toEqual([]);
  });

  test('(b) runs from two tokens: the number of runs and the median error, computed here', async ({ page }) => {
    const est = estimateOfTheStep();
    // Per step: 400 to 600 W for 50-60 ms, plausible for an H100 (the server checks).
    const runs = { alice: [[20, 0.05], [26, 0.05]], bob: [[36, 0.06]] };
    for (const [who, list] of Object.entries(runs)) {
      const tok = token(server, `e2e-${who}`);
      for (const [j, s] of list) await submit(server, tok, j, s);
    }
    // One vote per token: each token's median |estimated / measured - 1|, then the median over tokens.
    const perToken = Object.values(runs).map((list) => median(list.map(([j]) => Math.abs(est.joules.expected / j - 1))));
    const want = median(perToken);
    const all = Object.values(runs).flat();
    const inside = all.filter(([j]) => est.joules.low <= j && j <= est.joules.high).length;
    // Not within 0.1 points of a rounding tie, so this rounding and the server's agree.
    expect(Math.abs((want * 100) % 1 - 0.5)).toBeGreaterThan(0.1);

    const problems = h.watch(page);
    await h.open(page, `${server.url}/`);
    const l = line(page);
    await expect(l).toHaveAttribute('data-runs', String(all.length));
    const text = await l.innerText();
    expect(text).toContain(`On ${all.length} measured runs from 2 contributors on the NVIDIA H100 SXM5 80GB (pytorch-eager)`);
    expect(text).toContain(`the estimated energy was within ${pct(want)} of the measured at the median`);
    expect(text).toContain(`${inside} of ${all.length} runs inside the printed energy range`);
    h.expectClose(await h.value(page, '#accuracy .accuracy-line[data-device="h100-sxm"]', 'data-median-energy-error'), want, 'median energy error');
    const href = await l.locator('.runs-link').getAttribute('href');
    expect(href).toBe('/api/runs?device=h100-sxm&software=pytorch-eager');
    const listed = await (await fetch(`${server.url}${href}`)).json();
    expect(listed.runs.map((r) => r.case.measured.joules_per_step).sort((a, b) => a - b)).toEqual(all.map(([j]) => j).sort((a, b) => a - b));

    // Another class has no runs: its own line; back again, nothing is asked twice.
    const asked = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/accuracy') asked.push(`${u.searchParams.get('device')} ${u.searchParams.get('software')}`);
    });
    await page.selectOption('#f-software', 'compiled');
    await expect(page.locator('#accuracy .accuracy-line[data-software="compiled"]')).toContainText('No measured runs on the NVIDIA H100 SXM5 80GB (compiled) yet');
    await page.selectOption('#f-software', 'pytorch-eager');
    await expect(l).toHaveAttribute('data-runs', String(all.length));
    expect(asked).toEqual(['h100-sxm compiled']);
    await h.shot(page, 'accuracy-figures');
    expect(problems).toEqual([]);
  });

  test('(c) a stored link whose measured profile the server cannot verify says so', async ({ page }) => {
    await h.open(page, `${server.url}/`);
    const scenario = await h.exportedScenario(page);
    // A label no calibration run of this server has, over changed values.
    const label = `measured:${crypto.randomUUID()}`;
    scenario.resolved.device.source = { kind: 'measured', detail: 'a calibration file', version: label };
    scenario.resolved.device.idle_w *= 1.5;
    const r = await fetch(`${server.url}/api/estimates`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(scenario),
    });
    const stored = await r.json();
    expect(stored.profile_verified, JSON.stringify(stored)).toBe(false);

    await page.goto(`${server.url}/?estimate=${stored.id}`);
    const w = page.locator('#profile-unverified');
    await expect(w).toContainText('Not verified.');
    await expect(w).toContainText(`The measured device profile \u201c${label}\u201d (${scenario.resolved.device.name}) this link pins could not be verified against the calibrations stored on this server`);
    await expect(w).toHaveAttribute('role', 'alert');
    await h.shot(page, 'accuracy-not-verified');
    // The server's own profile instead: the warning goes, the numbers are the example's again.
    const before = await h.value(page, '#energy-kwh');
    await w.locator('button').click();
    await expect(w).toHaveCount(0);
    expect(await h.value(page, '#energy-kwh')).not.toBe(before);

    // The same scenario with its real profile: verified, no warning.
    const real = await h.exportedScenario(page);
    const ok = await (await fetch(`${server.url}/api/estimates`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(real),
    })).json();
    expect(ok.profile_verified).toBe(true);
    await page.goto(`${server.url}/?estimate=${ok.id}`);
    await expect(page.locator('#calibration')).toBeVisible();
    await page.waitForTimeout(500);
    await expect(page.locator('#profile-unverified')).toHaveCount(0);
  });

  test('a failing accuracy endpoint is asked once, and nothing is shown', async ({ page }) => {
    let calls = 0;
    await page.route('**/api/accuracy**', (route) => { calls += 1; route.fulfill({ status: 503, contentType: 'application/json', body: '{}' }); });
    await h.open(page, `${server.url}/`);
    await expect.poll(() => calls).toBe(1);
    await page.selectOption('#f-software', 'compiled');
    await page.selectOption('#f-software', 'serving');
    await page.waitForTimeout(500);
    expect(calls).toBe(1);
    await expect(page.locator('#accuracy')).toHaveCount(0);
  });
});

test('plain static files: no accuracy request, no line', async ({ browser }) => {
  const server = await h.staticServer();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const api = [];
  page.on('request', (r) => { if (r.url().includes('/api/')) api.push(new URL(r.url()).pathname); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(server.url);
    await expect(page.locator('#measured-status')).toContainText('Measured calibrations are unavailable');
    await page.selectOption('#f-software', 'compiled');
    await page.waitForTimeout(500);
    expect(api).toEqual(['/api/devices']);
    await expect(page.locator('#accuracy')).toHaveCount(0);
    expect(errors).toEqual([]);
  } finally {
    await ctx.close();
    server.close();
  }
});
