// Parallelism and serving inputs on the stage cards: the automatic strategy's
// note, a given strategy and an engine estimated as `jouleprint estimate
// --json` does, and the core's refusals under their fields.
const { test, expect } = require('@playwright/test');
const h = require('./helpers');

const id = (i, leaf) => `#f-stages-${i}-${leaf}`;
/** Three significant digits, as the page's `format::num` writes numbers under 1,000. */
const num3 = (x) => {
  const t = x.toPrecision(3);
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
};

/** Llama-2-70B on 64 H100s: training needs a strategy (the example's 8 hold no strategy that fits). */
async function llama70b(page) {
  await h.open(page);
  await h.setField(page, '#f-model-preset', 'llama-2-70b');
  await h.setField(page, '#f-hardware-count', '64');
  await expect(page.locator('#f-model-preset-err')).toHaveCount(0);
  await expect(page.locator('#f-hardware-count-err')).toHaveCount(0);
}

test('parallelism: left alone, a training stage shows the core\'s automatic strategy note', async ({ page }) => {
  const problems = h.watch(page);
  await llama70b(page);
  const s = await h.exportedScenario(page);
  expect(s.stages[0].parallelism).toBeUndefined();
  const cli = h.cli(s).raw;
  for (const i of [0, 1]) {
    const name = cli.stages[i].name;
    const note = cli.notes.find((n) => n.startsWith(`stage ${name}: `));
    expect(note, `the CLI chose a strategy for stage ${name}`).toBeTruthy();
    await expect(page.locator(`#stage-${i}-strategy`)).toHaveText(note);
    // collapsed, for a newcomer to leave alone
    await expect(page.locator(`#stage-${i}-parallelism`)).not.toHaveAttribute('open', /.*/);
    await expect(page.locator(`#stage-${i}-parallelism summary`)).toHaveText('Parallelism (automatic)');
  }
  // a deployment's decode has no training strategy to give
  await expect(page.locator('#stage-2-parallelism')).toHaveCount(0);
  await h.shot(page, 'parallelism-automatic');
  expect(problems).toEqual([]);
});

test('parallelism: tensor 8, pipeline 4, ZeRO 1 on the training stage is the CLI\'s estimate; bad values keep it', async ({ page }) => {
  const problems = h.watch(page);
  await llama70b(page);
  const auto = await h.numbers(page);
  await page.click('#stage-0-parallelism summary');
  await h.setField(page, id(0, 'parallelism-tensor'), '8');
  await h.setField(page, id(0, 'parallelism-pipeline'), '4');
  await h.setField(page, id(0, 'parallelism-zero'), '1');
  for (const leaf of ['tensor', 'pipeline', 'zero']) {
    await expect(page.locator(`${id(0, `parallelism-${leaf}`)}-err`)).toHaveCount(0);
  }
  await expect(page.locator('#stage-0-parallelism summary')).toHaveText('Parallelism (as given)');
  const s = await h.exportedScenario(page);
  expect(s.stages[0].parallelism).toEqual({ tensor: 8, pipeline: 4, zero: 1 });
  expect(s.stages[1].parallelism).toBeUndefined();
  const given = await h.numbers(page);
  expect(given.energy_kwh).not.toBe(auto.energy_kwh);
  const cli = h.cli(s);
  for (const k of Object.keys(given)) h.expectClose(given[k], cli[k], k);
  // 64 devices / (8 x 4) = 2 data-parallel replicas: the strategy the CLI used
  expect(cli.raw.stages[0].strategy).toMatch(/^data 2, tensor 8, pipeline 4/);
  await expect(page.locator('#stage-0-strategy')).toHaveText(`Estimated with ${cli.raw.stages[0].strategy}.`);
  // the link carries it
  const link = h.decodeLink(await h.shareUrl(page));
  expect(link.stages[0].parallelism).toEqual({ tensor: 8, pipeline: 4, zero: 1 });

  // tensor 3 on the final training stage: 3 does not divide the 64 devices
  await page.click('#stage-1-parallelism summary');
  const t1 = id(1, 'parallelism-tensor');
  await h.setField(page, t1, '3');
  const bad = JSON.parse(JSON.stringify(s));
  bad.stages[1].parallelism = { tensor: 3 };
  const why = h.cliErrors(bad);
  expect(why['stages[1].parallelism']).toContain('must divide the 64 devices');
  await expect(page.locator(`${t1}-err`)).toHaveText(why['stages[1].parallelism']);
  await expect(page.locator(t1)).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#estimate-error')).toHaveCount(0);
  await expect(page.locator('#general-error')).toHaveCount(0);
  expect(await h.numbers(page)).toEqual(given);

  // 96 devices: 3 divides them but not Llama-2-70B's 64 attention heads
  await h.setField(page, '#f-hardware-count', '96');
  const at96 = await h.numbers(page);
  bad.hardware.count = 96;
  const heads = h.cliErrors(bad)['stages[1].parallelism.tensor'];
  expect(heads).toContain('64 attention heads');
  await expect(page.locator(`${t1}-err`)).toHaveText(heads);
  expect(await h.numbers(page)).toEqual(at96);
  const s96 = await h.exportedScenario(page);
  expect(s96.stages[1].parallelism).toBeUndefined();
  h.expectClose(at96.energy_kwh, h.cli(s96).energy_kwh, 'energy on 96 devices');

  // the ZeRO stage's bound is the core's
  const z = id(0, 'parallelism-zero');
  await h.setField(page, z, '4');
  const zbad = JSON.parse(JSON.stringify(s96));
  zbad.stages[0].parallelism.zero = 4;
  await expect(page.locator(`${z}-err`)).toHaveText(h.cliErrors(zbad)['stages[0].parallelism.zero']);
  expect(await h.numbers(page)).toEqual(at96);
  await h.shot(page, 'parallelism-refused');
  expect(problems).toEqual([]);
});

test('serving: the engine select changes the deployment as the CLI does', async ({ page }) => {
  const problems = h.watch(page);
  await h.open(page);
  const engine = id(2, 'serving-engine');
  await expect(page.locator(engine)).toHaveCount(0);
  await page.selectOption('#f-software', 'serving');
  await expect(page.locator(engine)).toHaveValue('');
  const row = page.locator('#per-request li').last();
  const seen = {};
  for (const e of ['overlapped', 'vllm-0.5']) {
    await page.selectOption(engine, e);
    await expect(page.locator(`${engine}-err`)).toHaveCount(0);
    await expect(row.locator('.serving')).toHaveCount(1);
    const s = await h.exportedScenario(page);
    expect(s.stages[2].serving).toEqual({ engine: e });
    const cli = h.cli(s);
    const st = cli.raw.stages[2];
    const page_ = {
      tokens_per_second: await h.value(page, '#per-request li:last-child', 'data-tokens-per-second'),
      tpot_s: await h.value(page, '#per-request li:last-child .serving', 'data-tpot-s'),
      energy_kwh: await h.value(page, '#energy-kwh'),
    };
    h.expectClose(page_.tokens_per_second, st.tokens_per_second.expected, `${e}: tokens/s`);
    h.expectClose(page_.tpot_s, st.serving.tpot_s, `${e}: time per output token`);
    h.expectClose(page_.energy_kwh, cli.energy_kwh, `${e}: energy`);
    await expect(row).toContainText(`${num3(1 / st.serving.tpot_s)} tokens/s per sequence`);
    seen[e] = { page: page_, cli: st };
  }
  // vLLM 0.5's GPU waits for the host every step: fewer tokens/s per sequence, as the CLI says
  expect(seen['vllm-0.5'].cli.serving.tpot_s).toBeGreaterThan(seen.overlapped.cli.serving.tpot_s);
  expect(seen['vllm-0.5'].page.tpot_s).toBeGreaterThan(seen.overlapped.page.tpot_s);

  // replicas and the load, with the core's bounds
  await h.setField(page, id(2, 'serving-replicas'), '2');
  await h.setField(page, id(2, 'serving-peak-to-mean'), '3');
  await page.uncheck(id(2, 'serving-always-on'));
  await page.waitForTimeout(50);
  const s = await h.exportedScenario(page);
  expect(s.stages[2].serving).toEqual({ engine: 'vllm-0.5', replicas: 2, peak_to_mean: 3, always_on: false });
  h.expectClose(await h.value(page, '#energy-kwh'), h.cli(s).energy_kwh, 'energy with 2 replicas');
  const kept = await h.numbers(page);
  await h.setField(page, id(2, 'serving-peak-to-mean'), '0.5');
  const bad = JSON.parse(JSON.stringify(s));
  bad.stages[2].serving.peak_to_mean = 0.5;
  await expect(page.locator(`${id(2, 'serving-peak-to-mean')}-err`)).toHaveText(h.cliErrors(bad)['stages[2].serving.peak_to_mean']);
  expect(await h.numbers(page)).toEqual(kept);
  // no engine: static batches again
  await h.setField(page, id(2, 'serving-peak-to-mean'), '3');
  await page.selectOption(engine, '');
  expect((await h.exportedScenario(page)).stages[2].serving).toBeUndefined();
  await h.shot(page, 'serving-engine');
  expect(problems).toEqual([]);
});
