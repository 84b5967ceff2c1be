import { homedir } from 'node:os';
import { join } from 'node:path';

/** Default cache root: $ARBOR_CACHE_DIR, else ~/.cache/arbor. */
export function defaultCacheDir(): string {
  return process.env['ARBOR_CACHE_DIR'] ?? join(homedir(), '.cache', 'arbor');
}
