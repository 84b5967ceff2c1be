import { parentPort, workerData } from 'node:worker_threads';
import { runFuzz, type FuzzRunOptions } from './run.js';

// Runs a fuzz client in its own thread, so that generating requests never delays the server it
// tests when both live in one process (the tap tests).
parentPort!.postMessage(await runFuzz(workerData as FuzzRunOptions));
