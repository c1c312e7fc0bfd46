// Opens each HTML report in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), and fails unless the page loaded without a
// console error, a page error or a failed request, and each expected kind
// of chart is there, drawn (an <svg> with marks and a size on the page).
// A screenshot of each page is written beside it.
//
//   node check.mjs DIR EXPECTATIONS.json
//
// EXPECTATIONS maps a file name in DIR to { kind: minimum count }.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, expectationsFile] = process.argv.slice(2);
const expectations = JSON.parse(readFileSync(expectationsFile, 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failures = 0;
const fail = (page, message) => {
  failures += 1;
  console.error(`FAIL ${page}: ${message}`);
};
for (const [file, kinds] of Object.entries(expectations)) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  // Nothing may be fetched: a self-contained page asks for nothing but itself.
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`fetched ${r.url()}`); });
  const url = pathToFileURL(resolve(join(dir, file))).href;
  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response || !response.ok()) fail(file, 'did not load');
  for (const p of problems) fail(file, p);
  const scripts = await page.locator('script').count();
  if (scripts > 0) fail(file, `${scripts} script element(s): the report needs none`);
  const shot = join(dir, file.replace(/\.html$/, '.png'));
  await page.screenshot({ path: shot, fullPage: true });
  // The first screenful, for the docs.
  await page.setViewportSize({ width: 1200, height: 1500 });
  await page.screenshot({ path: shot.replace(/\.png$/, '-top.png') });
  // Folded parts hold charts too: unfolded, so that each is measured.
  const found = await page.evaluate(() => {
    for (const d of document.querySelectorAll('details')) d.open = true;
    const out = {};
    for (const f of document.querySelectorAll('figure.chart')) {
      const svg = f.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      const marks = svg ? svg.querySelectorAll('path, polyline, rect, circle, line').length : 0;
      const drawn = box.width > 100 && box.height > 20 && marks > 0;
      const kind = f.dataset.kind;
      out[kind] = out[kind] || { drawn: 0, empty: 0 };
      out[kind][drawn ? 'drawn' : 'empty'] += 1;
    }
    return out;
  });
  for (const [kind, least] of Object.entries(kinds)) {
    const got = found[kind] || { drawn: 0, empty: 0 };
    if (got.drawn < least) fail(file, `${got.drawn} drawn chart(s) of kind ${kind}, expected at least ${least}`);
    if (got.empty > 0) fail(file, `${got.empty} empty chart(s) of kind ${kind}`);
  }
  console.log(`ok ${file}: ${JSON.stringify(found)}; screenshot ${shot}`);
  await page.close();
}
await browser.close();
if (failures > 0) {
  console.error(`${failures} problem(s)`);
  process.exit(1);
}
