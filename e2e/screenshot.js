// The README's screenshot of the page: headless Chromium at 1280 x 900, the
// example estimate as the page opens.
//   node e2e/screenshot.js http://127.0.0.1:8080/ docs/frontend-screenshot.png
const { chromium } = require('@playwright/test');

(async () => {
  const [url = 'http://127.0.0.1:8080/', out = 'docs/frontend-screenshot.png'] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await page.locator('#energy-kwh').waitFor();
  await page.locator('#measured-status').filter({ hasNotText: 'Looking' }).waitFor();
  await page.screenshot({ path: out });
  const kwh = await page.locator('#energy-kwh').innerText();
  console.log(`screenshot: ${out} (${kwh})`);
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
