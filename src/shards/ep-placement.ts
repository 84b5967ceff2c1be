import { runOrtChild } from './ort-child.js';

/** ORT's name for the WebGPU execution provider in its logs. */
export const WEBGPU_EP = 'WebGpuExecutionProvider';

/** One node of an optimized graph and the execution provider ORT assigned it to. */
export interface NodePlacement {
  readonly opType: string;
  readonly name: string;
  readonly ep: string;
}

/** Where ORT placed the nodes of one session's optimized graph, read from its verbose log. */
export interface SessionPlacement {
  /** Node count per EP, inserted Memcpy nodes included. */
  readonly counts: Readonly<Record<string, number>>;
  /**
   * Every node with its EP. ORT names nodes only when they span several EPs, so this is empty when
   * all nodes are on one EP (then `counts` has a single entry).
   */
  readonly nodes: readonly NodePlacement[];
  /** `OpType (name)` of nodes the first EP has no kernel for (its GetCapability log lines). */
  readonly noKernel: readonly string[];
  /** Names of nodes ORT moved to the CPU on purpose (shape math it deems cheaper on the host). */
  readonly forcedToCpu: readonly string[];
  /** MemcpyToHost/MemcpyFromHost nodes ORT inserted between EPs: each is a copy per run. */
  readonly copies: number;
}

/** Session options that can cross into the child process (plain JSON). */
export type PlacementSessionOptions = Readonly<Record<string, unknown>>;

export interface PlacementOptions {
  /** Merged over `{ executionProviders: ['webgpu'], graphOptimizationLevel: 'all' }`. */
  readonly sessionOptions?: PlacementSessionOptions;
  /** The child's environment (default: this process's), e.g. to set VK_DRIVER_FILES. */
  readonly env?: NodeJS.ProcessEnv;
  /** Kills the child after this long (default 120 s: lavapipe compiles shaders slowly). */
  readonly timeoutMs?: number;
}

/** A session the placement child could not create (bad model, no adapter); names the model. */
export class PlacementError extends Error {
  override name = 'PlacementError';
}

const MARK = '@@arbor-placement';

// The child opens each model in turn with verbose logging. ORT's log is written by native code to
// file descriptor 2, which no in-process JS hook sees, so a child is the only way to capture it.
// Markers on stderr (a pipe: Node writes it synchronously, ORT flushes each line) split the log.
const CHILD = `
const [ortUrl, optionsJson, ...paths] = process.argv.slice(1);
const { default: ort } = await import(ortUrl);
const options = { ...JSON.parse(optionsJson), logSeverityLevel: 0, logVerbosityLevel: 0 };
for (const [i, path] of paths.entries()) {
  process.stderr.write('\\n${MARK} begin ' + i + '\\n');
  try {
    const session = await ort.InferenceSession.create(path, options);
    await session.release();
    process.stderr.write('\\n${MARK} end ' + i + '\\n');
  } catch (e) {
    process.stderr.write('\\n${MARK} error ' + i + ' ' + JSON.stringify(String(e && e.message)) + '\\n');
  }
}
`;

/**
 * Opens each ONNX model file in one short-lived child process with ORT's verbose log and returns
 * where each node was placed, in the order of `models`. External data is found beside each file,
 * as ORT always does. Nothing is run; placement is fixed when the session is created.
 *
 * @throws PlacementError when a session cannot be created (its message names the model and ORT's
 *   reason) or the child dies or times out.
 */
export async function readPlacement(models: readonly string[], options: PlacementOptions = {}): Promise<SessionPlacement[]> {
  const sessionOptions = { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', ...options.sessionOptions };
  const r = await runOrtChild(CHILD, [JSON.stringify(sessionOptions), ...models], {
    env: options.env,
    timeoutMs: options.timeoutMs ?? 120_000,
  }).catch((e: Error) => {
    throw new PlacementError(`cannot start the placement child: ${e.message}`);
  });
  const log = r.stderr;
  // A failed session is reported by a marker; a non-zero exit without one is a crash or timeout.
  if (r.code !== 0 && !log.includes(`${MARK} error`)) {
    const how = r.timedOut ? 'was killed after its timeout' : `exited with ${r.signal ?? `code ${r.code}`}`;
    throw new PlacementError(`the placement child ${how}; its log ends with:\n${log.slice(-2000)}`);
  }
  const sections = splitSections(log, models);
  return models.map((_, i) => parsePlacement(sections[i]!));
}

/**
 * Names what is not on `ep`: each such node as `OpType (name) on EP`, or `all N nodes on EP` when
 * ORT put the whole graph on another EP. Empty when every node is on `ep`.
 */
export function offEp(placement: SessionPlacement, ep: string = WEBGPU_EP): string[] {
  if (placement.nodes.length === 0) {
    return Object.entries(placement.counts)
      .filter(([e]) => e !== ep)
      .map(([e, n]) => `all ${n} nodes on ${e}`);
  }
  return placement.nodes.filter((n) => n.ep !== ep).map((n) => `${n.opType} (${n.name}) on ${n.ep}`);
}

/** Parses the part of ORT's verbose log written while one session was created. */
export function parsePlacement(log: string): SessionPlacement {
  const counts: Record<string, number> = {};
  const nodes: NodePlacement[] = [];
  const noKernel: string[] = [];
  const forcedToCpu: string[] = [];
  let ep: string | null = null;
  for (const line of log.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/VerifyEachNodeIsAssignedToAnEp\]\s+(All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/))) {
      ep = m[2]!;
      counts[ep] = Number(m[3]);
    } else if (ep && (m = line.match(/VerifyEachNodeIsAssignedToAnEp\]\s{3}(\S+) \((.*)\)\s*$/))) {
      nodes.push({ opType: m[1]!, name: m[2]!, ep });
    } else if ((m = line.match(/kernel not found in registries for Op type: (\S+) node name: (.*?)\s*$/))) {
      const node = `${m[1]} (${m[2]})`;
      if (!noKernel.includes(node)) noKernel.push(node);
    } else if ((m = line.match(/Force fallback to CPU execution for node: (\S+)/))) {
      forcedToCpu.push(m[1]!);
    }
  }
  // A graph the optimizer folded away entirely has the heading but no EP lines.
  if (!log.includes('VerifyEachNodeIsAssignedToAnEp] Node placements')) {
    throw new PlacementError('no node placement in the ORT log (was the session created with logSeverityLevel 0?)');
  }
  const copies = nodes.filter((n) => n.opType.startsWith('Memcpy')).length;
  return { counts, nodes, noKernel, forcedToCpu, copies };
}

function splitSections(log: string, models: readonly string[]): string[] {
  const sections: string[] = [];
  const re = new RegExp(`^${MARK} (begin|end|error) (\\d+)(?: (.*))?$`, 'gm');
  let start = -1;
  for (const m of log.matchAll(re)) {
    const i = Number(m[2]);
    if (m[1] === 'begin') start = m.index! + m[0].length;
    else if (m[1] === 'error') throw new PlacementError(`${models[i]}: ORT could not create the session: ${JSON.parse(m[3]!)}`);
    else sections[i] = log.slice(start, m.index);
  }
  const missing = models.findIndex((_, i) => sections[i] === undefined);
  if (missing >= 0) throw new PlacementError(`${models[missing]}: the placement child ended before this model; its log ends with:\n${log.slice(-2000)}`);
  return sections;
}
