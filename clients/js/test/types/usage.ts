// Compiled (never run) by test/types.test.mjs: the SDK's .d.ts describes how it is used.
import {
  createSession,
  ProviderAPIError,
  ProviderNetworkError,
  ProviderTimeoutError,
  type TokenChunk,
} from '../../src/index.js';

export async function answer(token: () => Promise<string>, signal: AbortSignal): Promise<string> {
  const session = await createSession({
    models: [{ runtime: 'anthropic', proxyUrl: 'https://gw.example/api/anthropic', model: 'claude' }],
    token,
    timeoutMs: 10_000,
    retryDelaysMs: [1000, 2000],
  });
  let text = '';
  try {
    for await (const chunk of session.createResponse({
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 100,
      signal,
    })) {
      const seen: TokenChunk = chunk;
      text += seen.token;
      if (chunk.isFirst) console.log(chunk.ttfbMs ?? 0, chunk.tokenId);
    }
  } catch (error) {
    if (error instanceof ProviderAPIError) return `${error.status} ${error.type} ${error.retryable}`;
    if (error instanceof ProviderTimeoutError || error instanceof ProviderNetworkError) return error.message;
    throw error;
  }
  return text;
}

// @ts-expect-error: runtime must be 'anthropic' or 'openai'
await createSession({ models: [{ runtime: 'gemini', proxyUrl: '', model: '' }] });
