/**
 * The device seam: which execution provider a shard runs on and what its graphs look like there.
 * The scheduler and the step descriptor never see any of this (DESIGN.md "Device seam"). No
 * imports: the front validates `device` / `dtype` with these tables without loading any shard code.
 */

/** Where a shard computes: onnxruntime's CPU EP, or its WebGPU EP (Dawn: Vulkan, Metal, D3D12). */
export type ShardDevice = 'cpu' | 'webgpu';

/** Weight precision of a shard's graphs. */
export type ShardDType = 'fp32' | 'fp16' | 'q8' | 'q4';

/** The precisions each device builds: the CPU EP has no fp16 kernels (FACTS.md), so fp16 is GPU-only. */
export const DEVICE_DTYPES: Readonly<Record<ShardDevice, readonly ShardDType[]>> = {
  cpu: ['fp32', 'q8', 'q4'],
  webgpu: ['fp16', 'fp32', 'q4'],
};

/** Each device's default precision. */
export const DEFAULT_DTYPE: Readonly<Record<ShardDevice, ShardDType>> = { cpu: 'fp32', webgpu: 'fp16' };

/** What the graph builder needs to know about the device. */
export interface GraphTarget {
  readonly device: ShardDevice;
  readonly dtype: ShardDType;
}
