// Preloaded with `node --import ./bench/lib/ort-timer.mjs …` (workers inherit it): wraps
// onnxruntime-node's InferenceSession.prototype.run in every thread and broadcasts each call's
// start/end (ms since the epoch, sub-ms precision) on the BroadcastChannel 'arbor-bench-ort-timer',
// so a benchmark can split an engine step into ORT time and everything else without touching the
// engine. Plain .mjs: arbor's worker threads do not load TypeScript.
import { threadId } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const channel = new BroadcastChannel('arbor-bench-ort-timer');
channel.unref();
const proto = ort.InferenceSession.prototype;
if (!proto.__arborTimed) {
  const run = proto.run;
  proto.run = async function timedRun(...args) {
    const t0 = performance.timeOrigin + performance.now();
    const out = await run.apply(this, args);
    const t1 = performance.timeOrigin + performance.now();
    channel.postMessage({ thread: threadId, t0, t1, inputs: Object.keys(args[0] ?? {}).length });
    return out;
  };
  proto.__arborTimed = true;
}
globalThis.__arborOrtTimer = true;
