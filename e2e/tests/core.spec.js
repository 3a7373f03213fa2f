// The page on the core's one pipeline (issue 9): what-ifs, bounds and links
// come from `shared`, so the page agrees with `jouleprint estimate`.
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

const DATA = path.join(h.ROOT, 'frontend', 'tests', 'data');

test('8. what-if rows are the core\'s: the page equals `estimate --json` what_ifs; ticked ones apply together', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  await h.setField(page, '#f-infrastructure-pue', '1.5');
  await expect(page.locator('li.whatif')).toHaveCount(10);
  const base = await h.numbers(page);
  const devBase = await h.value(page, '#stages-table tr[data-kind="development"]', 'data-kwh');
  const scenario = await h.exportedScenario(page);
  const c = h.cli(scenario);
  h.expectClose(base.energy_kwh, c.energy_kwh, 'energy');
  // Measured profiles from the server change what "another GPU" compares with.
  const measured = /^[1-9]/.test(await page.locator('#measured-status').innerText());
  expect(c.raw.what_ifs.map((w) => w.id)).toEqual(
    ['half-precision', 'low-precision', 'pruning', 'distill', 'early-stop', 'fewer-trials', 'region', 'pue', 'gpu', 'right-size']);
  for (const w of c.raw.what_ifs) {
    if (w.id === 'gpu' && measured) continue;
    const d = page.locator(`#whatif-${w.id}-delta`);
    if (w.applies) {
      const kwh = Number(await d.getAttribute('data-kwh'));
      const want = w.energy_kwh.expected - c.energy_kwh;
      expect(Math.abs(kwh - want), `${w.id}: page ${kwh} vs CLI ${want}`).toBeLessThanOrEqual(1e-9 * c.energy_kwh);
      await expect(page.locator(`#whatif-${w.id}-change`)).toContainText(w.change);
    } else {
      await expect(d).toContainText(`Does not apply: ${w.reason}`);
    }
  }
  // The student list holds smaller presets only.
  const students = await page.locator('#whatif-distill-param option').evaluateAll((os) => os.map((o) => o.value));
  expect(students.length).toBeGreaterThan(0);
  expect(students).not.toContain('llama-2-13b');
  expect(students).not.toContain('llama-2-70b');

  // Two ticked what-ifs apply together: half the trials, then PUE 1.5 -> 1.1.
  await page.check('#whatif-pue');
  await page.check('#whatif-fewer-trials');
  await expect(page.locator('#whatif-active')).toContainText('2 what-if changes');
  h.expectClose(await h.value(page, '#energy-kwh'), (base.energy_kwh - devBase / 2) * 1.1 / 1.5, 'two what-ifs');
  await h.shot(page, '08-whatifs-core');
  // The link carries the scenario with both applied.
  const linked = h.decodeLink(await h.shareUrl(page));
  expect(linked.infrastructure.pue).toBe(1.1);
  expect(linked.stages[0].runs).toBe(scenario.stages[0].runs / 2);

  // A model with no smaller preset of its kind: distillation does not apply.
  await page.uncheck('#whatif-pue');
  await page.uncheck('#whatif-fewer-trials');
  await h.setField(page, '#f-model-preset', 'gpt2');
  await expect(page.locator('#whatif-distill-delta')).toContainText('Does not apply');
  expect(problems).toEqual([]);
});

test('9. a link from an older estimator shows its pinned numbers beside today\'s; a v1 link without them still loads', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  const today = await h.numbers(page);
  const s = h.decodeLink(await h.shareUrl(page));
  // A link made today pins today's headline.
  h.expectClose(s.resolved.headline.energy_kwh, today.energy_kwh, 'pinned energy');
  h.expectClose(s.resolved.headline.wall_hours, today.wall_hours, 'pinned wall hours');

  s.resolved.estimator_version = 'jouleprint-estimator/0.0.9+model-0';
  s.resolved.headline = { energy_kwh: 570, co2e_kg: 210, device_hours: 600, wall_hours: 75 };
  const p = await page.context().newPage();
  const pp = h.watch(p);
  await h.open(p, '/' + h.linkFor(s));
  await expect(p.locator('#banner')).toHaveCount(0);
  const box = p.locator('#pinned-vs-today');
  await expect(box).toContainText('Computed by jouleprint-estimator/0.0.9+model-0: 570 kWh; today: ');
  await expect(p.locator('#pinned-energy')).toHaveAttribute('data-pinned', '570');
  h.expectClose(Number(await p.locator('#pinned-energy').getAttribute('data-today')), today.energy_kwh, 'today beside the pinned');
  await expect(p.locator('#pinned-co2e')).toHaveAttribute('data-pinned', '210');
  await expect(p.locator('#pinned-wall')).toHaveAttribute('data-pinned', '75');
  // The numbers shown are today's, and a new link pins today's version and numbers.
  h.expectClose(await h.value(p, '#energy-kwh'), today.energy_kwh, 'energy shown');
  const again = h.decodeLink(await h.shareUrl(p));
  expect(again.resolved.estimator_version).not.toBe('jouleprint-estimator/0.0.9+model-0');
  h.expectClose(again.resolved.headline.energy_kwh, today.energy_kwh, 'new link headline');
  await h.shot(p, '09-pinned-vs-today');
  // An edit makes it another scenario: no comparison.
  await h.setField(p, '#f-infrastructure-pue', '1.3');
  await expect(box).toHaveCount(0);
  expect(pp).toEqual([]);
  await p.close();

  // A version-1 link made by the page before links carried headlines.
  const fx = JSON.parse(fs.readFileSync(path.join(DATA, 'link-v1-no-headline.json'), 'utf8'));
  const q = await page.context().newPage();
  const qq = h.watch(q);
  await h.open(q, '/' + fx.fragment);
  await expect(q.locator('#banner')).toHaveCount(0);
  const n = await h.numbers(q);
  // the numbers it showed then while the estimator is the same version, else
  // today's for its scenario with the values it pinned (as the CLI computes them)
  const linked = h.decodeLink(fx.fragment);
  const byCli = h.cli(linked);
  const same = linked.resolved.estimator_version === byCli.raw.estimator_version;
  for (const k of ['energy_kwh', 'co2e_kg', 'device_hours', 'wall_hours']) {
    h.expectClose(n[k], byCli[k], `old link ${k}`);
    if (same) h.expectClose(n[k], fx[k], `old link ${k} as it showed then`);
  }
  // another version's link says it did not pin its numbers; today's shows nothing
  if (same) await expect(q.locator('#pinned-vs-today')).toHaveCount(0);
  else await expect(q.locator('#pinned-vs-today')).toContainText(`computed by ${linked.resolved.estimator_version}, which did not pin its numbers`);
  expect(qq).toEqual([]);
  await q.close();
  expect(problems).toEqual([]);
});

test('10. a bad value shows the core\'s message under its field, as the CLI says it; a bad link names every field', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  const before = await h.value(page, '#energy-kwh');
  const scenario = await h.exportedScenario(page);
  delete scenario.resolved;
  const cases = [
    ['#f-infrastructure-pue', '5', 'infrastructure.pue', (s) => { s.infrastructure.pue = 5; }, scenario.infrastructure.pue],
    ['#f-hardware-count', '200000', 'hardware.count', (s) => { s.hardware.count = 200000; }, scenario.hardware.count],
    ['#f-stages-1-workload-batch', '2000000', 'stages[1].workload.batch', (s) => { s.stages[1].workload.batch = 2000000; }, scenario.stages[1].workload.batch],
    ['#f-stages-0-runs', '1e12', 'stages[0].runs', (s) => { s.stages[0].runs = 1e12; }, scenario.stages[0].runs],
    ['#f-stages-0-samples', '1e30', 'stages[0].samples', (s) => { s.stages[0].samples = 1e30; }, scenario.stages[0].samples],
  ];
  for (const [sel, text, field, edit, was] of cases) {
    await h.setField(page, sel, text);
    const bad = JSON.parse(JSON.stringify(scenario));
    edit(bad);
    const cli = h.cliErrors(bad);
    expect(Object.keys(cli), field).toEqual([field]);
    await expect(page.locator(`${sel}-err`)).toHaveText(cli[field]);
    await expect(page.locator(sel)).toHaveAttribute('aria-invalid', 'true');
    // The last valid value stays in use: the estimate is still there.
    expect(await h.value(page, '#energy-kwh')).toBe(before);
    if (field === 'infrastructure.pue') await h.shot(page, '10-core-message');
    await h.setField(page, sel, String(was));
    await expect(page.locator(`${sel}-err`)).toHaveCount(0);
  }
  // Text that is not a number is the page's own refusal.
  await h.setField(page, '#f-stages-1-workload-batch', 'abc');
  await expect(page.locator('#f-stages-1-workload-batch-err')).toContainText('not a number');
  await h.setField(page, '#f-stages-1-workload-batch', String(scenario.stages[1].workload.batch));

  // Links with bad scenarios (the table the link loader's unit test reads):
  // the banner names every field with the core's message, as the CLI does.
  const lines = fs.readFileSync(path.join(DATA, 'bad-scenarios.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  for (const line of lines) {
    const c = JSON.parse(line);
    const p = await page.context().newPage();
    const pp = h.watch(p);
    await p.goto('/' + h.linkFor(c.scenario));
    const banner = p.locator('#banner');
    await expect(banner, c.name).toContainText('not valid');
    await expect(banner).toContainText('example estimate');
    const cli = h.cliErrors(c.scenario);
    expect(Object.keys(cli).sort(), c.name).toEqual([...c.fields].sort());
    for (const [f, m] of Object.entries(cli)) await expect(banner, c.name).toContainText(`${f}: ${m}`);
    expect(await h.value(p, '#energy-kwh')).toBeGreaterThan(0);
    expect(pp).toEqual([]);
    await p.close();
  }
  expect(problems).toEqual([]);
});
