import { randomFillSync } from 'node:crypto';

/**
 * `count` new row ids, UUIDs of version 7 (RFC 9562: the current Unix time in milliseconds, then random bits), in
 * ascending order. Ids that grow with time put a bulk write's entries at the right edge of every index that leads with
 * the id (the primary key, and (session_id, …) for a new session's messages), where random ids (version 4) scatter
 * them over the whole index: past the size of shared buffers each batch then rewrites pages all over it
 * (docs/performance.md, "Import"). Ascending within one call, so that ids assigned in the order given break ties of
 * equal times in that order; two calls in the same millisecond may interleave, as random ids always did.
 */
export function newRowIds(count: number, now = Date.now()): string[] {
  const bytes = randomFillSync(Buffer.allocUnsafe(16 * count));
  const ids: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    bytes.writeUIntBE(now, offset, 6);
    bytes[offset + 6] = 0x70 | (bytes[offset + 6]! & 0x0f);
    bytes[offset + 8] = 0x80 | (bytes[offset + 8]! & 0x3f);
    const hex = bytes.toString('hex', offset, offset + 16);
    ids.push(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
  }
  return ids.sort();
}
