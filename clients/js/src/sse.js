// Reading the token stream: Server-Sent Events `data:` lines out of a fetch body.

/**
 * Yield the `data` payload (a string) of each event in `body` (a ReadableStream of bytes).
 * Comments (`: ping` keep-alives) and other fields are skipped; CRLF and LF both end lines.
 * Only events with data are yielded, so a caller that re-arms its idle timeout per event is not
 * kept waiting by keep-alives (the gateway pings every 15 s while a model is silent).
 */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = dataOf(frame);
        if (data !== null) yield data;
      }
    }
  } finally {
    reader.releaseLock?.();
  }
}

function dataOf(frame) {
  const lines = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) lines.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return lines.length ? lines.join('\n') : null;
}
