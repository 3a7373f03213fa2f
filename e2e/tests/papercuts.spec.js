// What a newcomer tripped over on the page (issue 17): one label for a
// device's profile, a model change that adapts the stages, hints instead of
// errors while typing, the core's memory notes and warnings, whole device
// labels, links and short links in plain words, CSV cells that stay text.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const h = require('./helpers');

/** `measured (reference-2026-11-27)`: a profile's source as `jouleprint devices` words it. */
function originLabel(src) {
  const v = src.version.startsWith(`${src.kind}:`) ? src.version.slice(src.kind.length + 1) : src.version;
  return v && v !== src.kind ? `${src.kind} (${v})` : src.kind;
}

test('17.2 a device profile has one label: the device list, the calibration section and `jouleprint devices`', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  await expect(page.locator('#measured-status')).not.toContainText('Looking');
  const api = await (await page.request.get('/api/devices')).json();
  const d = api.devices.find((x) => x.id === 'h100-sxm');
  const label = originLabel(d.profile.source);
  // the example runs on the H100: its option, the calibration used, the CLI
  const option = await page.locator('#f-hardware-device option[value="h100-sxm"]').innerText();
  expect(option).toContain(`, ${label}`);
  await expect(page.locator('#calibration-origin')).toHaveText(label);
  if (d.profile_origin === 'builtin') {
    const devices = execFileSync(h.BIN, ['devices'], { encoding: 'utf8' });
    const line = devices.split('\n').find((l) => l.startsWith('h100-sxm '));
    expect(line.trimEnd().endsWith(`  ${label}`), line).toBe(true);
    // the built-in H100 profile is measured (the reference calibration): the box says so
    expect(d.profile.source.kind).toBe('measured');
    const status = page.locator('#measured-status');
    await expect(status).toContainText(`measured for ${d.name}`);
    await expect(status).not.toContainText('0 measured profiles');
    expect(option).not.toContain('datasheet');
  }
  // the exported Markdown names the profile the same way
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-md')]);
  expect(fs.readFileSync(await dl.path(), 'utf8')).toContain(`- Device profile: ${label}`);
  expect(problems).toEqual([]);
});

test('17.3 a model the stages do not fit adapts them, says what changed, and keeps the estimate', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  // GPT-2 XL has 1,024 learned positions; the example trains on 2,048
  await h.setField(page, '#f-model-preset', 'gpt2-xl');
  const note = page.locator('#model-adapted');
  await expect(note).toContainText('stage 1: sequence 1,024 instead of 2,048 (gpt2-xl has 1,024 positions)');
  await expect(note).toContainText('stage 2: sequence 1,024 instead of 2,048');
  await expect(page.locator('#f-stages-0-workload-seq')).toHaveValue('1024');
  await expect(page.locator('#estimate-error')).toHaveCount(0);
  await expect(page.locator('#general-error')).toHaveCount(0);
  await expect(page.locator('#whatif-pue-delta')).not.toContainText('fix the inputs');
  const s = await h.exportedScenario(page);
  expect(s.stages.map((x) => x.workload.seq)).toEqual([1024, 1024, undefined]);
  h.expectClose(await h.value(page, '#energy-kwh'), h.cli(s).energy_kwh, 'energy after the adaptation');

  // ResNet-50 reads images: the deployment's decode becomes inference
  await h.setField(page, '#f-model-preset', 'resnet50');
  await expect(note).toContainText('stage 3: phase inference instead of decode (resnet50 reads images)');
  await expect(page.locator('#f-stages-2-workload-phase')).toHaveValue('inference');
  await expect(page.locator('#estimate-error')).toHaveCount(0);
  await expect(page.locator('#whatif-pue-delta')).not.toContainText('fix the inputs');
  const r = await h.exportedScenario(page);
  h.expectClose(await h.value(page, '#energy-kwh'), h.cli(r).energy_kwh, 'energy of the vision model');
  await h.shot(page, '17-3-model-adapted');
  expect(problems).toEqual([]);
});

test('17.4 nothing typed yet is no error: an empty config.json tab, a preset name being typed', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  const before = await h.value(page, '#energy-kwh');
  await page.check('#model-tab-config');
  await expect(page.locator('#f-model-hf-config-pending')).toContainText('Paste the contents of a model\'s config.json');
  await expect(page.locator('#f-model-hf-config-err')).toHaveCount(0);
  await expect(page.locator('#f-model-hf-config')).not.toHaveAttribute('aria-invalid', 'true');
  expect(await h.value(page, '#energy-kwh')).toBe(before);
  // a half-pasted config: the reason in words, where it breaks
  await page.fill('#f-model-hf-config', '{ "model_type": ');
  const err = page.locator('#f-model-hf-config-err');
  await expect(err).toContainText('not valid JSON yet: the text ends too early');
  await expect(err).toContainText('line 1');
  await expect(err).not.toContainText('EOF');

  await page.check('#model-tab-preset');
  await h.setField(page, '#f-model-preset', 'mistral');
  await expect(page.locator('#f-model-preset-err')).toHaveCount(0);
  await expect(page.locator('#f-model-preset-pending')).toContainText('mistral-7b');
  await expect(page.locator('#f-model-preset')).not.toHaveAttribute('aria-invalid', 'true');
  expect(await h.value(page, '#energy-kwh')).toBe(before);
  await h.setField(page, '#f-model-preset', 'mistral-7b');
  await expect(page.locator('#f-model-preset-pending')).toHaveCount(0);
  expect((await h.exportedScenario(page)).model.preset).toBe('mistral-7b');
  await h.setField(page, '#f-model-preset', 'no-such-model');
  await expect(page.locator('#f-model-preset-err')).toContainText('no preset');
  expect(problems).toEqual([]);
});

test('17.5 memory: the core\'s notes and warnings, as `jouleprint estimate` says them', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  await h.setField(page, '#f-model-preset', 'llama-3-8b');
  await page.selectOption('#f-hardware-device', 'a100-sxm-40gb');
  for (const count of ['8', '1']) {
    await h.setField(page, '#f-hardware-count', count);
    const s = await h.exportedScenario(page);
    delete s.resolved;
    const c = h.cli(s).raw;
    const notes = await page.locator('#estimate-notes p').allInnerTexts();
    const warnings = await page.locator('#warnings p').allInnerTexts();
    expect(notes, `notes on ${count}`).toEqual(c.notes || []);
    expect(warnings, `warnings on ${count}`).toEqual(c.warnings);
    if (count === '8') expect(notes.join(' ')).toContain('ZeRO-3');
    if (count === '1') expect(warnings.join(' ')).toContain('NVIDIA A100 SXM4 40GB has 40 GB');
    // no words of the page's own about sharding
    await expect(page.locator('#results')).not.toContainText('Shard it over');
    await expect(page.locator('#memory-warning')).toHaveCount(0);
  }
  await h.shot(page, '17-5-memory');
  expect(problems).toEqual([]);
});

test('17.6 the device list shows whole labels at desktop width', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await h.open(page);
  const m = await page.evaluate(() => {
    const sel = document.getElementById('f-hardware-device');
    const cs = getComputedStyle(sel);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const widths = [...sel.options].map((o) => [o.text, ctx.measureText(o.text).width]);
    widths.sort((a, b) => b[1] - a[1]);
    // the text's room: the box less its padding, border and the arrow (about 1.5em)
    const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
      - 1.5 * parseFloat(cs.fontSize);
    return { widest: widths[0], room };
  });
  expect(m.widest[1], `"${m.widest[0]}" in ${m.room.toFixed(0)} px`).toBeLessThanOrEqual(m.room);
});

test('17.6 broken links and unknown short links: plain words, nothing in the console', async ({ page }) => {
  await h.open(page);
  const good = await h.shareUrl(page);
  const payload = good.split('#s=')[1];
  for (const hash of ['#s=' + payload.slice(0, payload.length - 25), '#s=' + payload.slice(0, 60) + '!' + payload.slice(61), '#s=1.QUJD9']) {
    const p = await page.context().newPage();
    const pp = h.watch(p);
    await p.goto('/' + hash);
    const banner = p.locator('#banner');
    await expect(banner).toContainText('truncated or damaged');
    for (const w of ['Invalid', 'symbol', 'offset', 'base64', 'decompress']) await expect(banner).not.toContainText(w);
    expect(pp).toEqual([]);
    await p.close();
  }
  // an unknown short link: a banner that says so, the example, no error of
  // the page's in the console. Chromium itself logs the API's 404 answer
  // ("Failed to load resource"), which no page script can silence: that one
  // line, for that request, is let through (the service answers 404 for an
  // unknown id, as docs/api.md says).
  const p = await page.context().newPage();
  const errors = [];
  p.on('console', (m) => {
    if (m.type() !== 'error') return;
    const network = /^Failed to load resource: the server responded with a status of 404/.test(m.text())
      && /\/api\/estimates\/nosuchlink1$/.test(m.location().url);
    if (!network) errors.push(`${m.text()} ${JSON.stringify(m.location())}`);
  });
  p.on('pageerror', (e) => errors.push(e.message));
  await p.goto('/?estimate=nosuchlink1');
  await expect(p.locator('#banner')).toContainText('could not be opened');
  await expect(p.locator('#banner')).toContainText('no estimate with this short link');
  expect(await h.value(p, '#energy-kwh')).toBeGreaterThan(0);
  await p.waitForTimeout(300);
  expect(errors).toEqual([]);
  await p.close();
});

test('17.6 pruning applies to the GPT-2 preset (no config given)', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  await h.setField(page, '#f-model-preset', 'gpt2');
  const delta = page.locator('#whatif-pruning-delta');
  await expect(delta).not.toContainText('Does not apply');
  await expect(delta).not.toContainText('intermediate_size');
  const s = await h.exportedScenario(page);
  const w = h.cli(s).raw.what_ifs.find((x) => x.id === 'pruning');
  expect(w.applies).toBe(true);
  const kwh = Number(await delta.getAttribute('data-kwh'));
  expect(kwh).toBeLessThan(0);
  expect(problems).toEqual([]);
});

test('17.6 a CSV export keeps text cells as text: no formula runs in a spreadsheet', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  const s = await h.exportedScenario(page);
  delete s.resolved;
  const names = ['=HYPERLINK("http://example.com","x")', '+1+1', '@SUM(A1)'];
  names.forEach((n, i) => { s.stages[i].name = n; });
  await h.open(page, '/' + h.linkFor(s));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const rows = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n').slice(1);
  expect(rows.length).toBe(4);
  // the first cell of each stage row: quoted when it holds quotes or commas, with a leading '
  expect(rows[0].startsWith('"\'=HYPERLINK(""http://example.com"",""x"")",')).toBe(true);
  expect(rows[1].startsWith("'+1+1,")).toBe(true);
  expect(rows[2].startsWith("'@SUM(A1),")).toBe(true);
  expect(rows[3].startsWith('total,')).toBe(true);
  for (const r of rows) expect(r).not.toMatch(/(^|,)[=+@-]/);
  expect(problems).toEqual([]);
});
