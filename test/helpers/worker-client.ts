import { Worker } from 'node:worker_threads';

/**
 * Runs `body` — plain JavaScript, the body of an async function of `data`, with `require` (the
 * `openai` client, …) — in a worker thread, and resolves with what it returns. A client of a big
 * request parses and counts its answer there, so that its work does not count against the
 * event loop of the server under test, which shares the test's main thread.
 */
export async function inWorker<T>(body: string, data: unknown): Promise<T> {
  const code = `
const { parentPort, workerData } = require('node:worker_threads');
(async (data) => { ${body} })(workerData).then(
  (ok) => parentPort.postMessage({ ok }),
  (err) => parentPort.postMessage({ err: String((err && err.stack) || err) }),
);`;
  const worker = new Worker(code, { eval: true, workerData: data });
  try {
    const m = await new Promise<{ ok?: T; err?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (m.err !== undefined) throw new Error(`client worker: ${m.err}`);
    return m.ok as T;
  } finally {
    await worker.terminate();
  }
}
