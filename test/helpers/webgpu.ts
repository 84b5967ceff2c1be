import { existsSync } from 'node:fs';
import type { Test } from 'tap';

/** Mesa's software Vulkan driver (lavapipe), which `.ci/run` installs from bookworm-backports. */
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

// Dawn reads VK_DRIVER_FILES when the WebGPU EP first starts; point it at lavapipe unless told otherwise.
if (!process.env['VK_DRIVER_FILES'] && existsSync(LAVAPIPE_ICD)) process.env['VK_DRIVER_FILES'] = LAVAPIPE_ICD;

/** Whether this machine has the Vulkan driver WebGPU tests use; in CI it must (`.ci/run` installs it). */
export function webgpuRunnable(): boolean {
  const present = existsSync(process.env['VK_DRIVER_FILES'] ?? LAVAPIPE_ICD);
  if (!present && process.env['CI']) throw new Error(`CI needs a Vulkan driver for the WebGPU tests (${LAVAPIPE_ICD} missing): .ci/run installs mesa-vulkan-drivers from bookworm-backports`);
  return present;
}

/**
 * Whether WebGPU tests can run here. CI must run them (`.ci/run` installs lavapipe), so there a
 * missing driver fails the test; elsewhere the test is skipped with how to enable it.
 */
export function requireWebGpu(t: Test): boolean {
  if (existsSync(process.env['VK_DRIVER_FILES'] ?? LAVAPIPE_ICD)) return true;
  const why = `no Vulkan driver for WebGPU (${LAVAPIPE_ICD} missing): apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`;
  if (process.env['CI']) t.fail(why);
  else t.skip(why);
  return false;
}
