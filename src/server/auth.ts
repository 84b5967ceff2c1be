import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// SGLang leaves health checks and metrics open so probes and scrapers need no secret.
const OPEN_PATHS = ['/health', '/metrics'];

/**
 * Checks `Authorization: Bearer <key>` against the server's API key. Both sides are hashed first
 * so that timingSafeEqual compares equal-length digests and the time taken reveals nothing
 * about the key, not even its length.
 */
export class ApiKeyGuard {
  private readonly digest: Buffer;

  constructor(apiKey: string) {
    this.digest = sha256(apiKey);
  }

  /** Whether `req` to `path` may proceed. */
  allows(req: IncomingMessage, path: string): boolean {
    if (OPEN_PATHS.some((open) => path === open || path.startsWith(`${open}_`))) return true;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return timingSafeEqual(sha256(match ? match[1]!.trim() : ''), this.digest) && match !== null;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
