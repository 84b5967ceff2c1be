import { parseArgs } from 'node:util';
// The built package (npm run build first): tsx does not give the engine's worker threads its
// TypeScript loader, so the engine must run from dist/, which `arbor` resolves to.
import { Engine, EngineBackend, RuntimeEndpoint, type LangBackend } from 'arbor';

/** The backend an example runs on, and how to release it. */
export interface ExampleBackend {
  readonly backend: LangBackend;
  /** Where it runs, for the report. */
  readonly where: string;
  close(): Promise<void>;
}

/**
 * `--url http://host:port` runs against an arbor (or SGLang) server, with `ARBOR_API_KEY` as its
 * key if set; otherwise an in-process engine on the bundled model (or `--model DIR`).
 * @param extra more `parseArgs` string options the example reads.
 */
export async function backendFromArgs(extra: Record<string, { type: 'string' }> = {}): Promise<ExampleBackend & { values: Record<string, string | undefined> }> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, model: { type: 'string' }, ...extra } });
  const v = values as Record<string, string | undefined>;
  if (v['url']) {
    const apiKey = process.env['ARBOR_API_KEY'];
    const endpoint = new RuntimeEndpoint(v['url'], apiKey ? { apiKey } : {});
    return { backend: endpoint, where: `server ${endpoint.url}`, close: async () => {}, values: v };
  }
  const engine = await Engine.create(v['model'] ? { model: v['model'] } : {});
  return { backend: new EngineBackend(engine), where: `in-process engine (${engine.modelPath})`, close: () => engine.close(), values: v };
}
