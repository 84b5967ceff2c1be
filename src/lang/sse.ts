import { BackendError } from './errors.js';

/**
 * The JSON payloads of a server-sent-event body (`data: …` blocks), up to `data: [DONE]`.
 * @throws BackendError on an `{"error": …}` event (the server's way to fail mid-stream).
 */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data === '') continue;
      if (data === '[DONE]') return;
      const event = JSON.parse(data) as { error?: { message?: string } };
      if (event.error) throw new BackendError(`server error mid-stream: ${event.error.message ?? JSON.stringify(event.error)}`);
      yield event;
    }
  }
  throw new BackendError('the event stream ended without [DONE]');
}
