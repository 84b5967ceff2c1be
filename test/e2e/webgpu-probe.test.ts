import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { probeWebGpu } from '../../src/shards/webgpu-probe.js';
import { DeviceUnavailableError } from '../../src/shards/device-errors.js';

// CI installs lavapipe and sets VK_DRIVER_FILES (.ci/install-lavapipe); these tests must not skip.

t.test('the probe finds a working adapter here (lavapipe), fp16 included', async (t) => {
  const p = await probeWebGpu();
  t.comment(`probe: ${p.totalMs.toFixed(0)} ms in all, session create ${p.createMs.toFixed(0)} ms, run ${p.runMs.toFixed(1)} ms`);
  t.ok(p.totalMs > 0 && p.createMs > 0 && p.runMs > 0);
  t.equal(p.fp16, true, 'lavapipe has shader-f16');
});

t.test('no Vulkan driver: a typed error that says what to install and set', async (t) => {
  const err = await probeWebGpu({ env: { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json' } }).catch((e: unknown) => e);
  t.type(err, DeviceUnavailableError);
  t.match(err, { reason: 'no-vulkan-driver', device: 'webgpu', message: /VK_DRIVER_FILES is \/nonexistent\/icd\.json/ });
  t.match((err as Error).message, /mesa-vulkan-drivers libvulkan1/);
  t.match((err as DeviceUnavailableError).detail, /No supported adapters/);
});

t.test('no loadable Vulkan loader: a typed error naming libvulkan.so.1', async (t) => {
  // dlopen searches LD_LIBRARY_PATH first, so an empty file there stands for a missing/broken loader.
  const dir = mkdtempSync(join(tmpdir(), 'arbor-novulkan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'libvulkan.so.1'), '');
  const err = await probeWebGpu({ env: { ...process.env, LD_LIBRARY_PATH: dir } }).catch((e: unknown) => e);
  t.match(err, { name: 'DeviceUnavailableError', reason: 'no-vulkan-loader', message: /libvulkan\.so\.1 could not be loaded .*apt-get install libvulkan1/ });
});

t.test('a probe that cannot answer (dead or hung child) is a typed error too', async (t) => {
  const dead = await probeWebGpu({ env: { ...process.env, NODE_OPTIONS: '--require /nonexistent/module.cjs' } }).catch((e: unknown) => e);
  t.match(dead, { name: 'DeviceUnavailableError', reason: 'probe-failed', message: /died \(exit code 1\)/ });
  const hung = await probeWebGpu({ timeoutMs: 1 }).catch((e: unknown) => e);
  t.match(hung, { name: 'DeviceUnavailableError', reason: 'probe-failed', message: /did not answer within 1 ms/ });
});
