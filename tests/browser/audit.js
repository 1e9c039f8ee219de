#!/usr/bin/env node
// Drives Debian's headless Chromium (playwright-core, no bundled browser) against a running
// Satu server and reports, as JSON on stdout, what the pytest tests in this folder assert:
//   - an axe-core WCAG 2.0/2.1/2.2 A+AA audit of each page, its language, scripts, CSP
//     violations and bytes transferred (JavaScript on, Indonesian browser);
//   - each page and the language switch with JavaScript disabled (clicking plain links);
//   - keyboard use of the skip link, reflow at a 360 px wide phone, and screenshots.
//
// Usage: node audit.js '{"baseUrl": "http://127.0.0.1:8000", "pages": ["/", "/tentang"],
//                        "screenshotDir": "/tmp/shots", "searchPath": "/wilayah"}'
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const CHROMIUM = process.env.SATU_CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

const tmpDirs = [];

async function openContext(options) {
  // Each context gets its own throwaway profile (Playwright passes it as --user-data-dir).
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'satu-chromium-'));
  tmpDirs.push(userDataDir);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: DESKTOP,
    locale: 'id-ID',
    ...options,
  });
  context.setDefaultTimeout(20000);
  return context;
}

function watch(page) {
  const seen = { responses: [], cspViolations: [], pageErrors: [], pending: [] };
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) {
      seen.cspViolations.push(message.text());
    }
  });
  page.on('pageerror', (error) => seen.pageErrors.push(String(error)));
  page.on('response', (response) => {
    const record = {
      url: response.url(),
      status: response.status(),
      type: (response.headers()['content-type'] || '').split(';')[0],
      bytes: 0,
    };
    seen.responses.push(record);
    seen.pending.push(
      response.body().then((body) => { record.bytes = body.length; }).catch(() => {}),
    );
  });
  return seen;
}

async function pageFacts(page) {
  return {
    lang: await page.locator('html').getAttribute('lang'),
    title: await page.title(),
    h1: (await page.locator('h1').allInnerTexts()).map((text) => text.trim()),
    scripts: await page.locator('script').count(),
    inlineStyles: await page.locator('[style]').count(),
  };
}

async function auditPage(context, baseUrl, pagePath) {
  const page = await context.newPage();
  const seen = watch(page);
  const response = await page.goto(baseUrl + pagePath, { waitUntil: 'load' });
  await page.waitForLoadState('networkidle');
  await Promise.all(seen.pending);
  const facts = await pageFacts(page);
  await page.evaluate(AXE_SOURCE);
  const axe = await page.evaluate(
    (tags) => window.axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    }),
    AXE_TAGS,
  );
  const bytesOf = (predicate) => seen.responses.filter(predicate)
    .reduce((sum, item) => sum + item.bytes, 0);
  const result = {
    status: response.status(),
    ...facts,
    violations: axe.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      tags: v.tags.filter((tag) => tag.startsWith('wcag')),
      nodes: v.nodes.slice(0, 5).map((node) => node.target.join(' ')),
    })),
    axeVersion: axe.testEngine.version,
    responses: seen.responses.map(({ url, status, type, bytes }) => ({ url, status, type, bytes })),
    htmlCssBytes: bytesOf((r) => r.type === 'text/html' || r.type === 'text/css'),
    totalBytes: bytesOf(() => true),
    cspViolations: seen.cspViolations,
    pageErrors: seen.pageErrors,
    horizontalOverflow: null,
  };
  await page.setViewportSize(PHONE);
  result.horizontalOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  await page.close();
  return result;
}

async function withoutJavaScript(baseUrl, pages, searchPath) {
  const context = await openContext({ javaScriptEnabled: false });
  const report = { pages: {}, languageSwitch: [], search: null, scriptsRan: null };
  const page = await context.newPage();
  // Prove that this context really runs no JavaScript.
  await page.setContent('<p id="probe">off</p><script>probe.textContent = "on"</script>');
  report.scriptsRan = (await page.locator('#probe').innerText()) === 'on';
  for (const pagePath of pages) {
    const response = await page.goto(baseUrl + pagePath);
    report.pages[pagePath] = { status: response.status(), ...(await pageFacts(page)) };
  }
  // A visitor with an Indonesian browser switches to English and back, by clicking links.
  await context.clearCookies();
  await page.goto(baseUrl + '/');
  const step = async (label) => report.languageSwitch.push({
    label,
    url: page.url(),
    ...(await pageFacts(page)),
    cookies: (await context.cookies()).map((c) => `${c.name}=${c.value}`),
  });
  await step('start');
  await Promise.all([page.waitForURL(/lang=en/), page.click('a[hreflang="en"]')]);
  await step('clicked English');
  await page.goto(baseUrl + '/tentang');
  await step('next page without a parameter');
  await Promise.all([page.waitForURL(/lang=id/), page.click('a[hreflang="id"]')]);
  await step('clicked Bahasa Indonesia');
  if (searchPath) {
    await page.goto(baseUrl + '/');
    await page.fill('input[name="q"]', 'Sleman');
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('form[role="search"] button[type="submit"]'),
    ]);
    report.search = {
      status: response.status(),
      url: page.url(),
      text: (await page.locator('main').innerText()).slice(0, 2000),
    };
  }
  await context.close();
  return report;
}

async function keyboard(context, baseUrl) {
  const page = await context.newPage();
  await page.goto(baseUrl + '/');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => {
    const el = document.activeElement;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return {
      className: el.className,
      href: el.getAttribute('href'),
      text: el.textContent.trim(),
      visible: box.top >= 0 && box.bottom <= window.innerHeight && box.width > 0,
      outlineStyle: style.outlineStyle,
      outlineWidth: style.outlineWidth,
      background: style.backgroundColor,
    };
  });
  await page.keyboard.press('Enter');
  await page.waitForURL(/#main$/);
  const afterEnter = await page.evaluate(() => (document.activeElement || {}).id || null);
  await page.keyboard.press('Tab');
  const next = await page.evaluate(() => {
    const el = document.activeElement;
    return { tag: el.tagName.toLowerCase(), insideMain: Boolean(el.closest('main')) };
  });
  await page.close();
  return { first, afterEnter, next };
}

async function screenshots(context, baseUrl, directory) {
  if (!directory) return [];
  fs.mkdirSync(directory, { recursive: true });
  const taken = [];
  const page = await context.newPage();
  for (const [name, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(viewport);
    for (const [suffix, lang] of [['', 'id'], ['-en', 'en']]) {
      await page.goto(`${baseUrl}/?lang=${lang}`);
      const file = path.join(directory, `home-${name}${suffix}.png`);
      await page.screenshot({ path: file, fullPage: true });
      taken.push(file);
    }
  }
  await page.goto(`${baseUrl}/?lang=id`);
  await page.close();
  return taken;
}

async function main() {
  const config = JSON.parse(process.argv[2] || '{}');
  const baseUrl = config.baseUrl.replace(/\/$/, '');
  const report = { chromium: null, pages: {}, noJavaScript: null, keyboard: null, screenshots: [] };
  const context = await openContext({});
  try {
    report.chromium = context.browser() ? context.browser().version() : null;
    for (const pagePath of config.pages) {
      report.pages[pagePath] = await auditPage(context, baseUrl, pagePath);
    }
    report.keyboard = await keyboard(context, baseUrl);
    report.screenshots = await screenshots(context, baseUrl, config.screenshotDir);
  } finally {
    await context.close();
  }
  report.noJavaScript = await withoutJavaScript(baseUrl, config.pages, config.searchPath);
  process.stdout.write(JSON.stringify(report, null, 2));
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
