import { basename } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { bundledModelPath } from '../engine/options.js';
import type { EngineProgress } from '../engine/types.js';
import { createArborServer } from '../server/server.js';
import { parseServeArgs, SERVE_HELP } from './serve-args.js';
import { checkServeEngineOptions, listenError } from './serve-checks.js';

/**
 * `arbor serve`: opens the port at once, loads the model (progress on stderr), prints
 * `arbor serving <model> at http://HOST:PORT` when ready, and on SIGINT/SIGTERM shuts down
 * gracefully (in-flight requests may finish, then the engine closes). A second signal aborts
 * what is still running.
 * @param argv the arguments after "serve".
 * @returns once the server has shut down (resolves; the caller exits 0).
 * @throws ServeArgsError for a bad command line — engine options and the model's config.json are
 *   checked before the port opens — or a host or port that cannot be bound; the load error when
 *   the model cannot be loaded (the caller prints it and exits 1).
 */
export async function serveCommand(argv: string[]): Promise<void> {
  const config = parseServeArgs(argv);
  if (config === 'help') {
    process.stdout.write(SERVE_HELP);
    return;
  }
  checkServeEngineOptions(config.engine);
  const modelName = config.servedModelName ?? config.engine.model ?? basename(bundledModelPath());
  let startLoading!: (engine: Promise<Engine>) => void;
  const enginePromise = new Promise<Engine>((resolve) => (startLoading = resolve));
  const arbor = createArborServer({
    engine: enginePromise,
    servedModelName: modelName,
    enableMetrics: config.enableMetrics,
    maxBodyBytes: config.maxBodyBytes,
    maxPromptsPerRequest: config.maxPromptsPerRequest,
    maxPromptTokensPerRequest: config.maxPromptTokensPerRequest,
    serverArgs: config.serverArgs,
    ...(config.apiKey !== undefined && { apiKey: config.apiKey }),
    ...(config.chatTemplate !== undefined && { chatTemplate: config.chatTemplate }),
  });

  const address = await arbor.listen(config.host, config.port).catch((err: NodeJS.ErrnoException) => {
    throw listenError(err, config.host, config.port);
  });
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  process.stderr.write(`arbor: listening at ${url}, loading ${modelName}\n`);
  startLoading(import('../engine/engine.js').then(({ Engine }) => Engine.create({ ...config.engine, onProgress: progressPrinter() })));

  let signalled: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const onSignal = (): void => signalled();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // A load failure ends the command; a signal during loading waits for the load to settle.
    const loaded = await Promise.race([enginePromise.then(() => true), stopRequested.then(() => false)]);
    if (loaded) {
      process.stdout.write(`arbor serving ${modelName} at ${url}\n`);
      await stopRequested;
    }
    process.stderr.write('arbor: shutting down (signal again to abort in-flight requests)\n');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // A second signal while draining stops waiting for in-flight requests.
    const force = (): void => void arbor.server.closeAllConnections();
    process.once('SIGINT', force);
    process.once('SIGTERM', force);
    await arbor.close();
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
  }
}

/** Load progress on stderr: one line per phase step of 10 %, so logs stay short. */
function progressPrinter(): (p: EngineProgress) => void {
  let lastPhase = '';
  let lastTenth = -1;
  return (p) => {
    const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
    if (p.phase === lastPhase && tenth === lastTenth) return;
    lastPhase = p.phase;
    lastTenth = tenth;
    process.stderr.write(`arbor: ${p.phase} ${p.done}/${p.total}\n`);
  };
}
