// The demo page's script: one session, one streamed answer per click, time to first token shown.
// Settings come from the address (#token=...&model=...&runtime=...&proxy=...), never from a key in
// the page: in a real application, your backend mints the token and hands it to the page.
import { createSession } from '../../clients/js/src/index.js';

const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
const $ = (id) => document.getElementById(id);
$('model').value = params.get('model') ?? 'mock-claude';
$('runtime').value = params.get('runtime') ?? 'anthropic';

let controller = null;

function status(text, state) {
  $('status').textContent = text;
  $('status').dataset.state = state;
}

async function ask(event) {
  event.preventDefault();
  const runtime = $('runtime').value;
  const gateway = params.get('proxy') ?? location.origin;
  const session = await createSession({
    models: [{ runtime, proxyUrl: `${gateway}/api/${runtime}`, model: $('model').value }],
    token: params.get('token') ?? undefined,
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
    status(`${error.name}: ${error.message}`, 'error');
  } finally {
    $('send').disabled = false;
    $('stop').disabled = true;
  }
}

$('ask').addEventListener('submit', ask);
$('stop').addEventListener('click', () => controller?.abort());
