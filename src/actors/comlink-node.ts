import { createRequire } from 'node:module';
import type { Endpoint } from 'comlink';
import type { MessagePort, Worker } from 'node:worker_threads';

// comlink ships its Node adapter as a UMD file without an ESM export map; load it through require.
const nodeEndpointImpl = createRequire(import.meta.url)('comlink/dist/umd/node-adapter.js') as (
  nep: MessagePort | Worker,
) => Endpoint;

/** Wraps a worker_threads Worker or MessagePort as a comlink Endpoint. */
export function nodeEndpoint(nep: MessagePort | Worker): Endpoint {
  return nodeEndpointImpl(nep);
}
