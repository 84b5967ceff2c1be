import { readFileSync } from 'node:fs';

/**
 * arbor's version from package.json (for /get_server_info). Source and build both live two
 * folders below the package root (src/server/, dist/server/), so one relative path serves both.
 */
export const ARBOR_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
