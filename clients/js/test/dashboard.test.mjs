// The admin dashboard (/ui) in Debian's Chromium, headless, driven by playwright-core.
// tests/e2e/test_dashboard_browser.py starts the gateway, then runs this file with:
//   BASTION_URL, BASTION_MASTER_KEY, CHROMIUM, OUTPUT_DIR (screenshots go there)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const env = process.env;
const skip = env.BASTION_URL && env.CHROMIUM ? false : 'BASTION_URL/CHROMIUM not set (tests/e2e/test_dashboard_browser.py runs this file)';
const ALIAS = 'browser-made-key';

async function reloadUntil(page, url, selector, timeout = 20000) {
  // Spend logs are written by a background batcher: reload until the row is there (or give up).
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.goto(url);
    if ((await page.locator(selector).count()) > 0) return;
    if (Date.now() > deadline) throw new Error(`${selector} never appeared on ${url}`);
    await page.waitForTimeout(250);
  }
}

describe('the admin dashboard in Chromium', { skip }, () => {
  let browser;
  let page;
  let key;

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    mkdirSync(env.OUTPUT_DIR, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  test('logs in with the master key', async () => {
    await page.goto(`${env.BASTION_URL}/ui/keys`);
    assert.match(page.url(), /\/ui\/login\?next=\/ui\/keys$/);
    await page.fill('#master_key', env.BASTION_MASTER_KEY);
    await Promise.all([page.waitForURL(`${env.BASTION_URL}/ui/keys`), page.click('#login')]);
    assert.equal(await page.textContent('h1'), 'Keys');
  });

  test('creates a key, shown once, then listed', async () => {
    await page.fill('#create-key_alias', ALIAS);
    await page.fill('#create-models', 'gpt');
    await page.fill('#create-rpm_limit', '60');
    await page.fill('#create-duration', '30d');
    await Promise.all([page.waitForLoadState('load'), page.click('#create')]);
    key = (await page.textContent('#new-key-value')).trim();
    assert.match(key, /^sk-/);
    await page.goto(`${env.BASTION_URL}/ui/keys`);
    const row = page.locator('#keys tbody tr', { hasText: ALIAS });
    assert.equal(await row.count(), 1);
    assert.match(await row.textContent(), /active/);
    assert.match(await row.locator('.expires').textContent(), /^\d{4}-\d\d-\d\d /, 'the expiry is a column');
    assert.match(await row.textContent(), /rpm 60/);
    assert.equal((await page.content()).includes(key), false, 'the key is shown only once');
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-keys.png'), fullPage: true });
  });

  test('a request through the gateway shows in the recent requests and the spend chart', async () => {
    const response = await fetch(`${env.BASTION_URL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'hello dashboard' }] }),
    });
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-request-id');
    await reloadUntil(page, `${env.BASTION_URL}/ui/requests`, `#requests tbody tr:has-text("${ALIAS}")`);
    const row = page.locator('#requests tbody tr', { hasText: ALIAS });
    assert.match(await row.textContent(), /gpt/);
    if (requestId) assert.match(await row.textContent(), new RegExp(requestId));
    assert.equal((await page.content()).includes('hello dashboard'), false, 'no prompt contents');

    // Filtered by the key, through the form: only its rows, and the filter stays in the form.
    await page.goto(`${env.BASTION_URL}/ui/requests`);
    await page.fill('#filter-key', ALIAS);
    await page.selectOption('#filter-status', 'success');
    await Promise.all([page.waitForURL(/key=browser-made-key/), page.click('#apply-filters')]);
    const rows = page.locator('#requests tbody tr');
    assert.ok((await rows.count()) >= 1);
    for (const text of await rows.allTextContents()) assert.match(text, new RegExp(ALIAS));
    assert.equal(await page.inputValue('#filter-key'), ALIAS);
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-requests.png') });

    await page.goto(`${env.BASTION_URL}/ui/spend?by=key&range=day`);
    const over = await page.$$eval('#chart-spend-time rect.bar', (rects) => rects.map((r) => Number(r.dataset.value)));
    assert.ok(over.reduce((a, b) => a + b, 0) > 0, `no spend over time: ${over}`);
    assert.ok((await page.locator('#chart-spend-time .x-tick').count()) >= 2, 'the time axis has dates');
    assert.match(await page.getAttribute('#csv', 'href'), /^\/ui\/spend\.csv\?.*by=key/);
    const bar = page.locator(`#chart-spend rect.bar[data-label*="${ALIAS}"]`);
    assert.equal(await bar.count(), 1);
    assert.ok(Number(await bar.getAttribute('data-value')) > 0, 'the key has spend in the chart');
    const requests = page.locator(`#chart-spend-requests rect.bar[data-label*="${ALIAS}"]`);
    assert.equal(await requests.getAttribute('data-value'), '1');
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-spend.png') });

    await page.goto(`${env.BASTION_URL}/ui`);
    assert.match(await page.textContent('#card-requests .value'), /^[1-9]/);
    const bars = await page.$$eval('#chart-requests rect.bar', (rects) => rects.map((r) => Number(r.dataset.value)));
    assert.ok(bars.reduce((a, b) => a + b, 0) >= 1, `no request in the overview chart: ${bars}`);
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-overview.png') });
  });

  test('edits the key: an emptied limit is removed, the rest stays', async () => {
    await page.goto(`${env.BASTION_URL}/ui/keys`);
    const row = page.locator('#keys tbody tr', { hasText: ALIAS });
    await Promise.all([page.waitForURL(/\/ui\/keys\/edit/), row.locator('a[data-action="edit"]').click()]);
    assert.equal(await page.inputValue('#edit-rpm_limit'), '60');
    await page.fill('#edit-rpm_limit', '');
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-key-edit.png') });
    await Promise.all([page.waitForURL(/done=saved/), page.click('#save')]);
    const saved = await page.locator('#keys tbody tr', { hasText: ALIAS }).textContent();
    assert.doesNotMatch(saved, /rpm 60/);
    assert.match(saved, /gpt/, 'the models were left as they were');
  });

  test('blocks the key: listed as blocked and refused by the gateway', async () => {
    await page.goto(`${env.BASTION_URL}/ui/keys`);
    const row = page.locator('#keys tbody tr', { hasText: ALIAS });
    await Promise.all([page.waitForURL(/done=blocked/), row.locator('button[data-action="block"]').click()]);
    assert.match(await page.textContent('#done'), /blocked/i);
    assert.match(await page.locator('#keys tbody tr', { hasText: ALIAS }).textContent(), /blocked/);
    const refused = await fetch(`${env.BASTION_URL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'blocked?' }] }),
    });
    assert.equal(refused.status, 401);
  });

  test('deletes the key only after a confirmation', async () => {
    await page.goto(`${env.BASTION_URL}/ui/keys`);
    const row = page.locator('#keys tbody tr', { hasText: ALIAS });
    await Promise.all([page.waitForURL(/\/ui\/keys\/delete\?key=/), row.locator('a[data-action="delete"]').click()]);
    assert.match(await page.textContent('#confirm-delete'), new RegExp(ALIAS));
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'dashboard-key-delete.png') });
    await Promise.all([page.waitForURL(/\/ui\/keys$/), page.click('#cancel')]);
    assert.equal(await page.locator('#keys tbody tr', { hasText: ALIAS }).count(), 1, 'cancel keeps the key');
    await page.locator('#keys tbody tr', { hasText: ALIAS }).locator('a[data-action="delete"]').click();
    await Promise.all([page.waitForURL(/done=deleted/), page.click('#confirm')]);
    assert.equal(await page.locator('#keys tbody tr', { hasText: ALIAS }).count(), 0);
  });
});
