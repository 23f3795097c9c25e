// A session streams answers from a Bastion token-stream endpoint (or any proxy speaking the same
// format): one request per createResponse, retried only before the first token arrives.

import { ProviderAPIError, ProviderError, ProviderNetworkError, ProviderTimeoutError } from './errors.js';
import { readEvents } from './sse.js';

/** The seed's schedule: attempt, wait 1 s, attempt, wait 2 s, attempt, then throw. */
export const DEFAULT_RETRY_DELAYS_MS = Object.freeze([1000, 2000]);
export const DEFAULT_TIMEOUT_MS = 30000;
const RUNTIMES = new Set(['anthropic', 'openai']);

function abortableSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Create a session. `models` lists where answers come from: `{ runtime, proxyUrl, model }`, with
 * `runtime` 'anthropic' or 'openai' (the body shape the proxy path takes).
 */
export async function createSession(options = {}) {
  return new Session(options);
}

export class Session {
  constructor({
    models,
    token,
    headers = {},
    timeoutMs = DEFAULT_TIMEOUT_MS,
    retryDelaysMs = DEFAULT_RETRY_DELAYS_MS,
    fetch: fetchImpl = globalThis.fetch,
    sleep = abortableSleep,
  } = {}) {
    if (!Array.isArray(models) || models.length === 0) {
      throw new TypeError('createSession needs models: [{ runtime, proxyUrl, model }]');
    }
    for (const entry of models) {
      if (!RUNTIMES.has(entry?.runtime)) {
        throw new TypeError(`runtime must be 'anthropic' or 'openai', got ${JSON.stringify(entry?.runtime)}`);
      }
      if (typeof entry.proxyUrl !== 'string' || typeof entry.model !== 'string') {
        throw new TypeError('each model needs a proxyUrl and a model name (strings)');
      }
    }
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch: pass one in createSession({ fetch })');
    this.models = models.map((entry) => ({ ...entry }));
    this._token = token;
    this._headers = headers;
    this._timeoutMs = timeoutMs;
    this._delays = [...retryDelaysMs];
    // Called unbound: a browser's fetch refuses any `this` but the window ("Illegal invocation").
    this._fetch = (url, init) => fetchImpl(url, init);
    this._sleep = sleep;
  }

  /**
   * Stream an answer: an async iterator of `{ token, tokenId, isFirst, isLast, ttfbMs? }`.
   * `model` picks one of the session's models by name (default: the first).
   */
  createResponse({ messages, max_tokens, model, signal, ...extra } = {}) {
    const entry = model === undefined ? this.models[0] : this.models.find((m) => m.model === model);
    if (entry === undefined) throw new TypeError(`model ${JSON.stringify(model)} is not in this session`);
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new TypeError('createResponse needs messages: [{ role, content }]');
    }
    return this._stream(entry, bodyFor(entry, messages, max_tokens, extra), signal);
  }

  async *_stream(entry, body, signal) {
    let seenToken = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        for await (const chunk of this._attempt(entry, body, signal)) {
          if (signal?.aborted) throw signal.reason;
          seenToken = true;
          yield chunk;
        }
        return;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const failure = error instanceof ProviderError ? error : new ProviderNetworkError(String(error?.message ?? error), { cause: error });
        failure.attempts = attempt;
        if (seenToken || !failure.retryable || attempt > this._delays.length) throw failure;
        let wait = this._delays[attempt - 1];
        if (failure.retryAfter !== undefined) wait = Math.max(wait, failure.retryAfter * 1000);
        await this._sleep(wait, signal);
      }
    }
  }

  async *_attempt(entry, body, signal) {
    const controller = new AbortController();
    let timedOut = false;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this._timeoutMs);
    };
    const forward = () => controller.abort(signal.reason);
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener('abort', forward, { once: true });
    arm();
    const failed = (error) => {
      if (signal?.aborted) return signal.reason;
      if (timedOut) return new ProviderTimeoutError(`no answer from ${entry.proxyUrl} within ${this._timeoutMs} ms`);
      if (error instanceof ProviderError) return error;
      return new ProviderNetworkError(`could not reach ${entry.proxyUrl}: ${error?.cause?.message ?? error?.message ?? error}`, { cause: error });
    };
    try {
      let response;
      try {
        response = await this._fetch(entry.proxyUrl, {
          method: 'POST',
          headers: await this._requestHeaders(),
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (error) {
        throw failed(error);
      }
      if (!response.ok) throw await apiError(response);
      let finished = false;
      try {
        // Only data events re-arm the timer: keep-alive pings are not an answer.
        for await (const data of readEvents(response.body)) {
          if (data === '[DONE]') {
            finished = true;
            break;
          }
          let parsed;
          try {
            parsed = JSON.parse(data);
          } catch {
            throw new ProviderNetworkError(`${entry.proxyUrl} sent a line that is not JSON: ${data.slice(0, 80)}`);
          }
          if (parsed.error) throw inStreamError(parsed.error);
          // The consumer's own time between chunks is not the proxy's silence.
          clearTimeout(timer);
          yield {
            token: parsed.token,
            tokenId: parsed.tokenId,
            isFirst: parsed.isFirst === true,
            isLast: parsed.isLast === true,
            ...(parsed.ttfbMs === undefined ? {} : { ttfbMs: parsed.ttfbMs }),
          };
          arm();
        }
      } catch (error) {
        throw failed(error);
      }
      if (!finished) throw failed(new ProviderNetworkError('the stream ended before [DONE]'));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
      controller.abort();
    }
  }

  async _requestHeaders() {
    const token = typeof this._token === 'function' ? await this._token() : this._token;
    const headers = { 'content-type': 'application/json', accept: 'text/event-stream', ...this._headers };
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }
}

function bodyFor(entry, messages, maxTokens, extra) {
  const body = { model: entry.model, ...extra };
  if (entry.runtime === 'anthropic') {
    const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
    body.messages = messages.filter((m) => m.role !== 'system');
    if (system.length) body.system = system.join('\n\n');
  } else {
    body.messages = messages;
  }
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  return body;
}

async function apiError(response) {
  let detail = {};
  try {
    const parsed = await response.json();
    detail = typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : { message: String(parsed.error ?? '') };
  } catch {
    // not JSON: the status says enough
  }
  const header = response.headers.get('retry-after');
  const retryAfter = detail.retryAfter ?? (header !== null && /^\d+$/.test(header) ? Number(header) : undefined);
  return new ProviderAPIError(detail.message || `the proxy answered HTTP ${response.status}`, {
    status: response.status,
    type: detail.type,
    retryAfter,
    code: detail.code,
  });
}

function inStreamError(error) {
  const status = Number.isInteger(error.status) ? error.status : error.retryable ? 500 : 400;
  return new ProviderAPIError(error.message || 'the stream failed', { status, type: error.type, retryAfter: error.retryAfter });
}
