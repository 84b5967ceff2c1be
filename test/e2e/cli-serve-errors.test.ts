import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Issue 12, item 7: `arbor serve` reports a bad command line before it opens the port, in flags.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** Runs `arbor serve ARGS` from the sources; resolves with its exit code and stderr. */
function serve(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'src', 'cli', 'main.ts'), 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

t.test('engine-option errors come before "listening at" and name flags', async (t) => {
  const r = await serve(['--port', '0', '--max-total-tokens', '10']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^arbor: --max-total-tokens: must be larger than --max-running-requests \(64\)$/m);
  t.notMatch(r.stderr, /listening at/, 'the port never opened');
  t.notMatch(r.stderr, /kvCacheTokens|maxRunningRequests/, 'no library field names');
});

t.test('a bad --host is a --host error; a taken port is a --port error', async (t) => {
  const host = await serve(['--port', '0', '--host', 'no.such.host.invalid']);
  t.equal(host.code, 1);
  t.match(host.stderr, /^arbor: --host: cannot listen on no\.such\.host\.invalid:0/m);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const busy = await serve(['--port', String(port)]);
  t.equal(busy.code, 1);
  t.match(busy.stderr, new RegExp(`^arbor: --port: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`, 'm'));
});
