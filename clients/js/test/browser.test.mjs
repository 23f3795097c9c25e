// The example page (examples/browser/) in Debian's Chromium, headless, driven by playwright-core.
// tests/e2e/test_browser_page.py starts the gateway (which serves the page) and a plain static
// server on another origin, then runs this file with:
//   BASTION_URL, BASTION_MASTER_KEY, PAGE_ORIGIN_ALLOWED (in cors_origins),
//   PAGE_ORIGIN_DENIED (not), CHROMIUM, OUTPUT_DIR (the screenshot goes there)
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

const env = process.env;
const skip = env.BASTION_URL && env.CHROMIUM ? false : 'BASTION_URL/CHROMIUM not set (tests/e2e/test_browser_page.py runs this file)';
const ANSWER = 'alpha bravo charlie delta echo foxtrot golf hotel';

describe('the example page in Chromium', { skip }, () => {
  let browser;
  let token;

  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const response = await fetch(`${env.BASTION_URL}/api/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.BASTION_MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ models: ['claude'], ttl_seconds: 300, user: 'page-visitor' }),
    });
    assert.equal(response.status, 200);
    token = (await response.json()).token;
  });

  after(async () => {
    await browser?.close();
  });

  async function ask(origin, { runtime = 'anthropic', proxy, model = 'claude' } = {}) {
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    const console = [];
    page.on('console', (message) => console.push(message.text()));
    const hash = new URLSearchParams({ token, model, runtime, ...(proxy ? { proxy } : {}) });
    await page.goto(`${origin}/examples/browser/#${hash}`);
    await page.fill('#max-tokens', '8');
    await page.click('#send');
    await page.waitForSelector('#status:is([data-state="done"], [data-state="error"])', { timeout: 20000 });
    return { page, console };
  }

  test('served by Bastion: the answer streams into the page token by token, with time to first token', async () => {
    const { page } = await ask(env.BASTION_URL);
    assert.equal(await page.getAttribute('#status', 'data-state'), 'done', await page.textContent('#status'));
    const tokens = await page.$$eval('#answer .token', (spans) => spans.map((s) => [s.dataset.tokenId, s.textContent]));
    assert.equal(tokens.length, 8);
    assert.deepEqual(
      tokens.map(([id]) => id),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
    );
    assert.equal(tokens.map(([, text]) => text).join(''), ANSWER);
    assert.match(await page.textContent('#ttft'), /^\d+ ms \(gateway: \d+ ms\)$/);
    assert.equal(await page.textContent('#count'), '8');
    mkdirSync(env.OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(env.OUTPUT_DIR, 'browser-stream.png'), fullPage: true });
    await page.close();
  });

  test('from an allowed origin: CORS (preflight included) lets the page stream', async () => {
    const { page } = await ask(env.PAGE_ORIGIN_ALLOWED, { runtime: 'openai', proxy: env.BASTION_URL });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'done', await page.textContent('#status'));
    assert.equal(await page.textContent('#answer'), ANSWER);
    await page.close();
  });

  test('without a browser token: the page says where one comes from and sends nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    const sent = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/api/')) sent.push(request.url());
    });
    await page.goto(`${env.BASTION_URL}/examples/browser/`);
    await page.click('#send');
    await page.waitForSelector('#status[data-state="error"]', { timeout: 20000 });
    assert.equal(await page.getAttribute('#status', 'data-error'), 'NoToken');
    assert.match(await page.textContent('#status'), /needs a browser token/);
    assert.match(await page.textContent('#mint-command'), /\/api\/token/);
    assert.doesNotMatch(await page.textContent('body'), /send your Bastion key/i);
    assert.deepEqual(sent, []);
    await page.close();
  });

  test('a refusal by the gateway is shown as a refusal, with its status and message', async () => {
    const { page } = await ask(env.BASTION_URL, { model: 'not-in-the-allowlist' });
    assert.equal(await page.getAttribute('#status', 'data-error'), 'ProviderAPIError');
    assert.match(await page.textContent('#status'), /^Bastion refused the request \(400\): /);
    assert.equal(await page.textContent('#answer'), '');
    await page.close();
  });

  test('from an origin not in the allowlist: refused by CORS, nothing streamed', async () => {
    const before = await refusals();
    const { page, console } = await ask(env.PAGE_ORIGIN_DENIED, { proxy: env.BASTION_URL });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'error');
    assert.equal(await page.getAttribute('#status', 'data-error'), 'ProviderNetworkError');
    assert.match(await page.textContent('#status'), /^Could not reach Bastion at /);
    assert.equal(await page.textContent('#answer'), '');
    assert.ok(
      console.some((line) => line.includes('blocked by CORS policy')),
      `no CORS refusal in the console: ${console.join(' | ')}`,
    );
    assert.ok((await refusals()) > before, 'the gateway did not count the refused origin');
    await page.close();
  });
});

async function refusals() {
  const text = await (await fetch(`${env.BASTION_URL}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('bastion_browser_refusals_total{reason="origin"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}
