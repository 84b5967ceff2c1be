/** Which part of the WebGPU stack is missing or broken. */
export type DeviceUnavailableReason =
  /** The Vulkan loader (libvulkan.so.1) could not be loaded. */
  | 'no-vulkan-loader'
  /** The loader found no Vulkan driver (ICD). */
  | 'no-vulkan-driver'
  /** A driver was found, but Dawn rejected it (e.g. Debian 12's own Mesa 22 lavapipe). */
  | 'unsupported-driver'
  /** ORT found no WebGPU adapter for another or unknown reason. */
  | 'no-adapter'
  /** An adapter was found, but a session could not be created or run on it, or gave wrong results. */
  | 'session-failed'
  /** The probe process crashed or did not answer in time. */
  | 'probe-failed';

/**
 * The asked-for device cannot be used. The message says what is missing and how to fix it;
 * `detail` holds the diagnostics it was derived from (ORT's error, Dawn's warnings).
 */
export class DeviceUnavailableError extends Error {
  override name = 'DeviceUnavailableError';

  constructor(
    readonly device: 'webgpu',
    readonly reason: DeviceUnavailableReason,
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}
