// Types for the Bastion browser SDK (src/index.js).

/** Which body shape the proxy path takes: `/api/anthropic` or `/api/openai`. */
export type Runtime = 'anthropic' | 'openai';

export interface ModelConfig {
  runtime: Runtime;
  /** The token-stream endpoint, e.g. `https://gateway.example.com/api/anthropic`. */
  proxyUrl: string;
  /** The model (group) name the gateway serves. */
  model: string;
}

export interface SessionOptions {
  models: ModelConfig[];
  /** A browser token (from your backend's `POST /api/token`), or a function returning a fresh one per request. */
  token?: string | (() => string | Promise<string>);
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Time to wait for the answer to start, and for each next chunk (default 30000); the gateway's
   * `: ping` keep-alives do not count as chunks. */
  timeoutMs?: number;
  /** Waits between attempts (default [1000, 2000]: three attempts). */
  retryDelaysMs?: readonly number[];
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** How to wait between attempts (tests pass one that does not sleep). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ResponseOptions {
  messages: Message[];
  max_tokens?: number;
  /** One of the session's model names (default: the first). */
  model?: string;
  /** Cancels the request; the iterator then throws the signal's reason (an `AbortError`). */
  signal?: AbortSignal;
  temperature?: number;
  top_p?: number;
}

/** One token as the gateway streams it. */
export interface TokenChunk {
  token: string;
  /** 0, 1, 2, ... in order. */
  tokenId: number;
  isFirst: boolean;
  isLast: boolean;
  /** On the first token: milliseconds from the request reaching the gateway to this token. */
  ttfbMs?: number;
}

export declare const DEFAULT_RETRY_DELAYS_MS: readonly number[];
export declare const DEFAULT_TIMEOUT_MS: number;

export declare class Session {
  constructor(options: SessionOptions);
  readonly models: ModelConfig[];
  createResponse(options: ResponseOptions): AsyncGenerator<TokenChunk, void, undefined>;
}

export declare function createSession(options: SessionOptions): Promise<Session>;

export declare class ProviderError extends Error {
  /** Whether the same call could succeed if tried again. */
  retryable: boolean;
  /** How many attempts were made. */
  attempts: number;
}
/** The proxy could not be reached, or the connection broke. */
export declare class ProviderNetworkError extends ProviderError {}
/** No answer (or no next chunk) within `timeoutMs`. */
export declare class ProviderTimeoutError extends ProviderError {}
/**
 * The proxy answered with an error (4xx not retried; 5xx and 429 retried before the first token,
 * except a 429 asking to wait more than a minute: a used-up plan quota).
 */
export declare class ProviderAPIError extends ProviderError {
  status: number;
  type: string;
  retryAfter?: number;
  /** The proxy's error code when it gave one, e.g. `plan_quota_exceeded`. */
  code?: string;
}
/** Seconds: a 429 asking to wait longer is not retried. */
export declare const MAX_RETRY_WAIT_SECONDS: number;
