import { spawn } from 'node:child_process';

/** What a finished child printed and how it ended. */
export interface ChildResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when it was killed for outliving `timeoutMs`. */
  readonly timedOut: boolean;
}

export interface ChildOptions {
  /** The child's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}

/**
 * Runs an ES module script (source text) in a fresh Node process with onnxruntime-node's module URL
 * as its first argument (`process.argv[1]`), then `args`. Used where ORT must not share this
 * process: native log lines go to file descriptor 2, out of reach of any JS hook, and a broken GPU
 * driver can abort or hang a process. Never rejects for the child's own failure; see the result.
 */
export function runOrtChild(script: string, args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const ortUrl = import.meta.resolve('onnxruntime-node');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ortUrl, ...args], {
      // Inside Electron, process.execPath is the app: this makes it behave as plain Node.
      env: { ...(options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code, signal, timedOut });
    });
  });
}
