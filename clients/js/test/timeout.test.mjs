// timeoutMs counts the proxy's silence between chunks, and a `: ping` keep-alive is not a chunk.
// A stalled mock token-stream proxy on loopback (no gateway needed) sends headers, optionally a
// first chunk, then only `: ping` comments, forever: the SDK must give up with ProviderTimeoutError.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { createSession, ProviderTimeoutError } from '../src/index.js';

const PING_EVERY_MS = 20;
const TIMEOUT_MS = 300;

/** A proxy that pings every PING_EVERY_MS and sends `tokens` data frames first; it never ends. */
function stalledProxy() {
  const open = new Set();
  let pings = 0;
  const server = createServer((request, response) => {
    const tokens = Number(new URL(request.url, 'http://x').searchParams.get('tokens') ?? 0);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < tokens; i += 1) {
      response.write(`data: ${JSON.stringify({ token: `t${i}`, tokenId: i, isFirst: i === 0, isLast: false })}\n\n`);
    }
    const timer = setInterval(() => {
      pings += 1;
      response.write(': ping\n\n');
    }, PING_EVERY_MS);
    open.add(timer);
    const stop = () => {
      clearInterval(timer);
      open.delete(timer);
    };
    request.on('close', stop);
    response.on('close', stop);
  });
  return {
    server,
    pings: () => pings,
    close() {
      for (const timer of open) clearInterval(timer);
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('timeoutMs and keep-alive pings', () => {
  let proxy;
  let base;
  before(async () => {
    proxy = stalledProxy();
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    base = `http://127.0.0.1:${proxy.server.address().port}`;
  });
  after(() => proxy.close());

  async function run(tokens) {
    const waits = [];
    const s = await createSession({
      models: [{ runtime: 'openai', proxyUrl: `${base}/api/openai?tokens=${tokens}`, model: 'gpt' }],
      timeoutMs: TIMEOUT_MS,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const chunks = [];
    const pingsBefore = proxy.pings();
    try {
      for await (const chunk of s.createResponse({ messages: [{ role: 'user', content: 'Hi' }] })) chunks.push(chunk);
    } catch (error) {
      return { error, chunks, waits, pings: proxy.pings() - pingsBefore };
    }
    assert.fail(`the stream ended without an error after ${chunks.length} chunks`);
  }

  // Without the fix the pings re-arm the timer forever: the test's own timeout fails it.
  test('pings before the first chunk do not hold off the timeout', { timeout: 10_000 }, async () => {
    const { error, chunks, waits, pings } = await run(0);
    assert.ok(error instanceof ProviderTimeoutError, String(error));
    assert.equal(chunks.length, 0);
    assert.equal(error.attempts, 3, 'a silent proxy is retried before the first token');
    assert.deepEqual(waits, [1000, 2000]);
    assert.ok(pings >= 3, `the proxy pinged (${pings} pings) while the SDK waited`);
  });

  test('pings after a chunk do not hold off the timeout, and nothing is retried', { timeout: 10_000 }, async () => {
    const { error, chunks, waits, pings } = await run(2);
    assert.ok(error instanceof ProviderTimeoutError, String(error));
    assert.deepEqual(
      chunks.map((c) => c.token),
      ['t0', 't1'],
    );
    assert.equal(error.attempts, 1);
    assert.deepEqual(waits, []);
    assert.ok(pings >= 3, `the proxy pinged (${pings} pings) after the last chunk`);
  });
});
