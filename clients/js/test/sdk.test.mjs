// The SDK against a real Bastion with the mock upstream. tests/e2e/test_js_sdk.py starts both and
// runs this file with their addresses in the environment:
//   BASTION_URL, BASTION_MASTER_KEY, MOCK_UPSTREAM_URL
// The gateway serves 'claude' (Anthropic upstream), 'gpt' (OpenAI upstream) and 'gemini', with
// bastion_settings.browser allowing 'claude' and 'gpt' and capping max_tokens at 64, and no
// gateway-side retries, so every upstream fault reaches the SDK.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import {
  createSession,
  ProviderAPIError,
  ProviderNetworkError,
  ProviderTimeoutError,
} from '../src/index.js';

const GATEWAY = process.env.BASTION_URL;
const MASTER = process.env.BASTION_MASTER_KEY;
const UPSTREAM = process.env.MOCK_UPSTREAM_URL;
const skip = GATEWAY ? false : 'BASTION_URL is not set (tests/e2e/test_js_sdk.py runs this file)';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];

async function post(path, body, key = MASTER) {
  const response = await fetch(GATEWAY + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function mint(body = {}, key = MASTER) {
  const answer = await post('/api/token', body, key);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.token;
}

async function script(faults) {
  const response = await fetch(UPSTREAM + '/_mock/script', { method: 'POST', body: JSON.stringify(faults) });
  assert.equal(response.status, 200);
}

async function upstreamCalls() {
  const response = await fetch(UPSTREAM + '/_mock/requests');
  return (await response.json()).filter((r) => !r.path.startsWith('/_mock/')).length;
}

/** A session whose waits are recorded, not slept. */
async function session({ runtime = 'anthropic', model = 'claude', token, ...options } = {}) {
  const waits = [];
  const s = await createSession({
    models: [{ runtime, proxyUrl: `${GATEWAY}/api/${runtime}`, model }],
    token: token ?? (await mint()),
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { s, waits };
}

async function collect(iterable) {
  const chunks = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

async function failure(iterable) {
  const chunks = [];
  try {
    for await (const chunk of iterable) chunks.push(chunk);
  } catch (error) {
    return { error, chunks };
  }
  assert.fail(`expected an error; got ${chunks.length} chunks`);
}

const hello = [{ role: 'user', content: 'Hello' }];

describe('browser SDK against Bastion', { skip }, () => {
  beforeEach(async () => {
    await fetch(UPSTREAM + '/_mock/reset', { method: 'POST' });
  });

  for (const [runtime, model] of [
    ['anthropic', 'claude'],
    ['openai', 'gpt'],
    ['anthropic', 'gpt'],
    ['openai', 'claude'],
  ]) {
    test(`${runtime} runtime, model ${model}: one chunk per token, in order, first and last marked`, async () => {
      const { s } = await session({ runtime, model });
      const chunks = await collect(s.createResponse({ messages: hello, max_tokens: 6 }));
      assert.deepEqual(
        chunks.map((c) => c.token),
        WORDS.map((w, i) => (i ? ` ${w}` : w)),
      );
      assert.deepEqual(
        chunks.map((c) => c.tokenId),
        [0, 1, 2, 3, 4, 5],
      );
      assert.deepEqual(
        chunks.map((c) => [c.isFirst, c.isLast]),
        [[true, false], [false, false], [false, false], [false, false], [false, false], [false, true]],
      );
      assert.equal(typeof chunks[0].ttfbMs, 'number');
      assert.ok(chunks.slice(1).every((c) => c.ttfbMs === undefined));
    });
  }

  test('a system message goes where the Anthropic shape wants it', async () => {
    const { s } = await session();
    const chunks = await collect(
      s.createResponse({ messages: [{ role: 'system', content: 'Be brief.' }, ...hello], max_tokens: 2 }),
    );
    assert.equal(chunks.length, 2);
    const [sent] = await (await fetch(UPSTREAM + '/_mock/requests')).json();
    assert.equal(JSON.stringify(sent.body.system).includes('Be brief.'), true);
  });

  test('5xx before the first token: retried after 1 s, then 2 s, and the third attempt streams', async () => {
    await script([{ status: 500 }, { status: 503 }]);
    const { s, waits } = await session();
    const chunks = await collect(s.createResponse({ messages: hello, max_tokens: 3 }));
    assert.equal(chunks.length, 3);
    assert.deepEqual(waits, [1000, 2000]);
    assert.equal(await upstreamCalls(), 3);
  });

  test('three 5xx: ProviderAPIError after three attempts', async () => {
    await script([{ status: 500 }, { status: 500 }, { status: 500 }]);
    const { s, waits } = await session();
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 3 }));
    assert.ok(error instanceof ProviderAPIError, String(error));
    assert.equal(error.status, 500);
    assert.equal(error.attempts, 3);
    assert.equal(error.retryable, true);
    assert.deepEqual(waits, [1000, 2000]);
  });

  test('429 is retried, waiting at least what the gateway asks', async () => {
    await script([{ status: 429, retry_after: 3 }]);
    const { s, waits } = await session();
    const chunks = await collect(s.createResponse({ messages: hello, max_tokens: 2 }));
    assert.equal(chunks.length, 2);
    assert.deepEqual(waits, [3000]);
  });

  test("a plan's used-up quota: 429 with the plan's sentence and code, not retried (it renews in hours)", async () => {
    // The gateway puts every browser token's user on the 'tiny' plan: 10 tokens a day, fewer than
    // one call reserves.
    const token = await mint({ user: `quota-${Date.now()}-${Math.random()}` });
    const { s, waits } = await session({ token });
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 3 }));
    assert.ok(error instanceof ProviderAPIError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.type, 'rate_limit_error');
    assert.equal(error.code, 'plan_quota_exceeded');
    assert.match(error.message, /^Your tiny plan's 10 tokens for today are used\. They renew on /);
    assert.ok(error.retryAfter > 60, String(error.retryAfter));
    assert.equal(error.retryable, false);
    assert.deepEqual(waits, []);
    assert.equal(await upstreamCalls(), 0);
  });

  test('4xx is not retried: a model outside the allowlist is 400 Invalid model', async () => {
    const { s, waits } = await session({ model: 'gemini', token: MASTER });
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 2 }));
    assert.ok(error instanceof ProviderAPIError);
    assert.equal(error.status, 400);
    assert.match(error.message, /^Invalid model/);
    assert.equal(error.retryable, false);
    assert.equal(error.attempts, 1);
    assert.deepEqual(waits, []);
    assert.equal(await upstreamCalls(), 0);
  });

  test('max_tokens above the cap is refused with the cap named', async () => {
    const { s } = await session();
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 65 }));
    assert.equal(error.status, 400);
    assert.match(error.message, /cap of 64/);
  });

  test('no retry after the first token: an error mid-stream ends the iteration', async () => {
    await script([{ error_after: 3 }]);
    const { s, waits } = await session();
    const { error, chunks } = await failure(s.createResponse({ messages: hello, max_tokens: 8 }));
    assert.ok(chunks.length >= 1 && chunks.length <= 3, `${chunks.length} chunks`);
    assert.equal(chunks[0].isFirst, true);
    assert.ok(error instanceof ProviderAPIError, String(error));
    assert.deepEqual(waits, []);
    assert.equal(await upstreamCalls(), 1);
  });

  test('an upstream connection that breaks mid-stream arrives as an in-stream error, not retried', async () => {
    await script([{ drop_after: 2 }]);
    const { s, waits } = await session();
    const { error, chunks } = await failure(s.createResponse({ messages: hello, max_tokens: 8 }));
    assert.ok(chunks.length >= 1);
    assert.ok(error instanceof ProviderAPIError, String(error));
    assert.equal(error.retryable, true);
    assert.deepEqual(waits, []);
  });

  test('timeout: ProviderTimeoutError after three attempts that never start', async () => {
    await script([{ delay: 3 }, { delay: 3 }, { delay: 3 }]);
    const { s, waits } = await session({ timeoutMs: 150 });
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 2 }));
    assert.ok(error instanceof ProviderTimeoutError, String(error));
    assert.equal(error.attempts, 3);
    assert.deepEqual(waits, [1000, 2000]);
  });

  test('a slow consumer is not a timeout: only the proxy\'s silence counts', async () => {
    const { s, waits } = await session({ timeoutMs: 1000 });
    const chunks = [];
    for await (const chunk of s.createResponse({ messages: hello, max_tokens: 3 })) {
      chunks.push(chunk);
      // The page is busy for longer than the timeout once, with the rest of the answer buffered.
      if (chunks.length === 1) await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    assert.equal(chunks.length, 3);
    assert.deepEqual(waits, []);
  });

  test('an unreachable proxy: ProviderNetworkError after three attempts', async () => {
    const s = await createSession({
      models: [{ runtime: 'openai', proxyUrl: 'http://127.0.0.1:9/api/openai', model: 'gpt' }],
      sleep: async () => {},
    });
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 2 }));
    assert.ok(error instanceof ProviderNetworkError, String(error));
    assert.equal(error.attempts, 3);
  });

  test('abort after the first token stops the stream with an AbortError', async () => {
    const { s, waits } = await session();
    const controller = new AbortController();
    const chunks = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of s.createResponse({ messages: hello, max_tokens: 40, signal: controller.signal })) {
          chunks.push(chunk);
          controller.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.equal(chunks.length, 1);
    assert.deepEqual(waits, []);
  });

  test('abort while waiting to retry ends at once', async () => {
    await script([{ status: 500 }, { status: 500 }]);
    const controller = new AbortController();
    const s = await createSession({
      models: [{ runtime: 'anthropic', proxyUrl: `${GATEWAY}/api/anthropic`, model: 'claude' }],
      token: await mint(),
      sleep: async () => controller.abort(),
    });
    await assert.rejects(collect(s.createResponse({ messages: hello, max_tokens: 2, signal: controller.signal })), {
      name: 'AbortError',
    });
    assert.equal(await upstreamCalls(), 1);
  });

  test('a token minted by a virtual key may not do more than the key', async () => {
    const key = await post('/key/generate', { models: ['claude'], max_budget: 1 });
    assert.equal(key.status, 200, JSON.stringify(key.body));
    const wider = await post('/api/token', { models: ['gpt'] }, key.body.key);
    assert.equal(wider.status, 403);
    const richer = await post('/api/token', { max_budget: 5 }, key.body.key);
    assert.equal(richer.status, 403);
    const token = await mint({ ttl_seconds: 60 }, key.body.key);
    const { s } = await session({ token });
    assert.equal((await collect(s.createResponse({ messages: hello, max_tokens: 2 }))).length, 2);
    const { s: other } = await session({ token, runtime: 'openai', model: 'gpt' });
    const { error } = await failure(other.createResponse({ messages: hello, max_tokens: 2 }));
    assert.equal(error.status, 400);
    assert.match(error.message, /^Invalid model/);
  });

  test('a token is refused once its minting key is deleted', async () => {
    const key = await post('/key/generate', {});
    const token = await mint({}, key.body.key);
    const deleted = await post('/key/delete', { keys: [key.body.key] });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    const { s } = await session({ token });
    const { error } = await failure(s.createResponse({ messages: hello, max_tokens: 2 }));
    assert.equal(error.status, 401);
    assert.match(error.message, /minted it/);
  });

  test('the token can come from a function, called for each request', async () => {
    let calls = 0;
    const { s } = await session({
      token: async () => {
        calls += 1;
        return mint();
      },
    });
    await collect(s.createResponse({ messages: hello, max_tokens: 1 }));
    await collect(s.createResponse({ messages: hello, max_tokens: 1 }));
    assert.equal(calls, 2);
  });
});
