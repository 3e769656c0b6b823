import type { IncomingHttpHeaders } from 'node:http';
import type { Database } from '../db/client';
import { ForbiddenError, UnauthenticatedError } from '../graphql/errors';
import type { Scope, Viewer } from '../core/context';
import { hashApiKey } from '../api-keys/api-key.secret';
import type { Logger } from '../logger';

/** Reads the API key of a request: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function apiKeyFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <key>".');
    return match[1];
  }
  const header = headers['x-api-key'];
  return (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
}

interface StoredKey {
  id: string;
  name: string;
  tenantId: string | null;
  scopes: Scope[];
  revoked: boolean;
}

/**
 * Resolves API keys to viewers. Lookups are cached per process for `ttlMs`, so a request usually
 * issues no SQL for authentication; revocation therefore takes effect within `ttlMs`, or at once when
 * the revocation is announced to this process (`revoke`, from Redis). The cache is keyed by the key
 * as sent, so a cached request does not hash it again (the key is in this process's memory with
 * every request anyway).
 */
export class Authenticator {
  private readonly cache = new Map<string, { key: StoredKey | null; expiresAt: number }>();
  /** Keys announced as revoked, until a lookup started after the announcement would see it in the database anyway. */
  private readonly revoked = new Map<string, number>();
  private readonly revokedListeners: ((apiKeyId: string) => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    /** How long a looked-up key is reused; a revocation takes effect within it. */
    readonly ttlMs: number,
  ) {}

  /** Returns the viewer for these headers, null without a key; throws UNAUTHENTICATED or FORBIDDEN. */
  async authenticate(headers: IncomingHttpHeaders): Promise<Viewer | null> {
    const key = apiKeyFromHeaders(headers);
    if (!key) return null;
    const stored = await this.lookup(key);
    if (!stored || stored.revoked || this.isAnnouncedRevoked(stored.id))
      throw new UnauthenticatedError('The API key is unknown or revoked.');
    const tenantHeader = headers['x-tenant-id'];
    const requestedTenant = (Array.isArray(tenantHeader) ? tenantHeader[0] : tenantHeader)?.trim() || null;
    if (stored.tenantId !== null && requestedTenant !== null && requestedTenant !== stored.tenantId) {
      throw new ForbiddenError('This API key belongs to another tenant than the one named in x-tenant-id.');
    }
    return {
      apiKeyId: stored.id,
      apiKeyName: stored.name,
      scopes: new Set(stored.scopes),
      tenantId: stored.tenantId ?? requestedTenant,
      isAdminKey: stored.tenantId === null,
    };
  }

  /** Forgets cached keys, e.g. after revoking one in this process, or after missing announcements of revocations. */
  clear(): void {
    this.cache.clear();
  }

  /**
   * Refuses the key from now on, in this process: its cached lookups are dropped, a lookup in flight cannot bring it
   * back, and `onRevoked` listeners (open WebSockets) are told.
   */
  revoke(apiKeyId: string): void {
    for (const [apiKey, entry] of this.cache) if (entry.key?.id === apiKeyId) this.cache.delete(apiKey);
    // Kept as long as a lookup that started before the revocation was committed could still be cached.
    const now = Date.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
    if (this.revoked.size < 100_000) this.revoked.set(apiKeyId, now + Math.max(this.ttlMs, 60_000));
    for (const listener of this.revokedListeners) listener(apiKeyId);
  }

  /** Calls `listener` with the id of each key revoked through `revoke`. */
  onRevoked(listener: (apiKeyId: string) => void): void {
    this.revokedListeners.push(listener);
  }

  private isAnnouncedRevoked(apiKeyId: string): boolean {
    const until = this.revoked.get(apiKeyId);
    return until !== undefined && until > Date.now();
  }

  private async lookup(apiKey: string): Promise<StoredKey | null> {
    const now = Date.now();
    const cached = this.cache.get(apiKey);
    if (cached && cached.expiresAt > now) return cached.key;
    const row = await this.db.prisma.apiKey.findUnique({
      where: { keyHash: hashApiKey(apiKey) },
      select: { id: true, name: true, tenantId: true, scopes: true, revokedAt: true },
    });
    const key = row && { id: row.id, name: row.name, tenantId: row.tenantId, scopes: row.scopes, revoked: row.revokedAt !== null };
    if (this.ttlMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(apiKey, { key, expiresAt: now + this.ttlMs });
    }
    if (key && !key.revoked) {
      // Recorded at most once per cache period per key; a failure must not fail the request.
      this.db.prisma.apiKey
        .update({ where: { id: key.id }, data: { lastUsedAt: new Date() }, select: { id: true } })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not record API key use'));
    }
    return key;
  }
}
