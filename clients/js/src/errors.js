// The SDK's error classes, as the seed names them. Every error says whether retrying could help.

/** Root of the SDK's errors. */
export class ProviderError extends Error {
  constructor(message, { retryable = false, attempts = 1, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** Whether the same call could succeed if tried again. */
    this.retryable = retryable;
    /** How many attempts were made before this error was thrown. */
    this.attempts = attempts;
  }
}

/** The proxy could not be reached, or the connection broke. Retried before the first token. */
export class ProviderNetworkError extends ProviderError {
  constructor(message, options = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** No answer (or no next chunk) within `timeoutMs`. Retried before the first token. */
export class ProviderTimeoutError extends ProviderError {
  constructor(message, options = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** Seconds: a 429 asking to wait longer is a quota (a plan's tokens for the month), not retried. */
export const MAX_RETRY_WAIT_SECONDS = 60;

/**
 * The proxy answered with an error: an HTTP status before the stream, or an `error` line inside it.
 * 4xx are not retried; 5xx and 429 are (before the first token only), except a 429 whose
 * `retryAfter` is longer than a minute: a used-up quota, whose message is for the user.
 */
export class ProviderAPIError extends ProviderError {
  constructor(message, { status, type = 'api_error', retryAfter, code, ...options } = {}) {
    const waitable = !(retryAfter > MAX_RETRY_WAIT_SECONDS);
    super(message, { retryable: (status === 429 && waitable) || status >= 500, ...options });
    /** The proxy's error code when it gave one, e.g. `plan_quota_exceeded`. */
    this.code = code;
    /** The HTTP status (or the status an in-stream error names). */
    this.status = status;
    /** The error type from the proxy, e.g. `rate_limit_error` or `invalid_request_error`. */
    this.type = type;
    /** Seconds the proxy asked to wait before trying again, when it said. */
    this.retryAfter = retryAfter;
  }
}
