// The demo page's script: one session, one streamed answer per click, time to first token shown.
// Settings come from the address (#token=...&model=...&runtime=...&proxy=...), never from a key in
// the page: in a real application, your backend mints the token and hands it to the page.
import { createSession } from '../../clients/js/src/index.js';

const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
const $ = (id) => document.getElementById(id);
$('model').value = params.get('model') ?? 'mock-claude';
$('runtime').value = params.get('runtime') ?? 'anthropic';
$('token').value = params.get('token') ?? '';
const gateway = params.get('proxy') ?? location.origin;
$('mint-command').textContent =
  `curl ${gateway}/api/token -H "Authorization: Bearer $BASTION_KEY" -H "Content-Type: application/json" ` +
  `-d '{"models": ["${$('model').value}"], "ttl_seconds": 600}'`;

let controller = null;

function status(text, state, kind = '') {
  $('status').textContent = text;
  $('status').dataset.state = state;
  $('status').dataset.error = kind;
}

// What went wrong, said as a person would: a refusal by the gateway is not a provider failure.
function describe(error) {
  if (error.name === 'AbortError') return 'Stopped.';
  if (error.name === 'ProviderNetworkError') return `Could not reach Bastion at ${gateway}: ${error.message}`;
  if (error.name === 'ProviderTimeoutError') return `No answer in time: ${error.message}`;
  if (error.name === 'ProviderAPIError' && error.status < 500) {
    return `Bastion refused the request (${error.status}): ${error.message}`;
  }
  if (error.name === 'ProviderAPIError') return `The call failed upstream (${error.status}): ${error.message}`;
  return `${error.name}: ${error.message}`;
}

async function ask(event) {
  event.preventDefault();
  const runtime = $('runtime').value;
  const token = $('token').value.trim();
  if (!token) {
    $('mint').open = true;
    status('This page needs a browser token: mint one with the command above and paste it.', 'error', 'NoToken');
    return;
  }
  const session = await createSession({
    models: [{ runtime, proxyUrl: `${gateway}/api/${runtime}`, model: $('model').value }],
    token,
  });
  $('answer').textContent = '';
  $('ttft').textContent = '–';
  $('count').textContent = '0';
  status('Streaming…', 'streaming');
  controller = new AbortController();
  $('send').disabled = true;
  $('stop').disabled = false;
  const started = performance.now();
  let count = 0;
  try {
    for await (const chunk of session.createResponse({
      messages: [{ role: 'user', content: $('prompt').value }],
      max_tokens: Number($('max-tokens').value),
      signal: controller.signal,
    })) {
      if (chunk.isFirst) {
        const seen = Math.round(performance.now() - started);
        $('ttft').textContent = `${seen} ms (gateway: ${chunk.ttfbMs} ms)`;
      }
      const span = document.createElement('span');
      span.className = 'token';
      span.dataset.tokenId = String(chunk.tokenId);
      span.textContent = chunk.token;
      $('answer').append(span);
      $('count').textContent = String((count += 1));
    }
    status('Done.', 'done');
  } catch (error) {
    status(describe(error), 'error', error.name);
  } finally {
    $('send').disabled = false;
    $('stop').disabled = true;
  }
}

$('ask').addEventListener('submit', ask);
$('stop').addEventListener('click', () => controller?.abort());
