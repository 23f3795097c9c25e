// Bastion browser SDK: stream LLM answers token by token through a Bastion token-stream endpoint.
// An ES module with no dependencies; runs in browsers and Node 20+.

export { createSession, Session, DEFAULT_RETRY_DELAYS_MS, DEFAULT_TIMEOUT_MS } from './session.js';
export {
  MAX_RETRY_WAIT_SECONDS,
  ProviderError,
  ProviderNetworkError,
  ProviderTimeoutError,
  ProviderAPIError,
} from './errors.js';
