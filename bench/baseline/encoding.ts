// convoql's wire formats, written out for the baseline (which must not load the GraphQL layer):
// global IDs as in src/graphql/global-id.ts, cursors as in src/graphql/connection.ts. The benchmark
// compares both servers' answers, so a drift shows up as a "different JSON" note.

/** A position in a keyset order: the sort value and the id that breaks ties. */
export interface KeysetPosition {
  value: string | number;
  id: string;
}

/** base64url of "Type:key". */
export function toGlobalId(type: 'Session' | 'Message' | 'Conversation', key: string): string {
  return Buffer.from(`${type}:${key}`, 'utf8').toString('base64url');
}

/** The database key of a global ID of this type, or null for anything else. */
export function keyOfGlobalId(type: 'Session' | 'Message' | 'Conversation', id: string): string | null {
  const decoded = Buffer.from(id, 'base64url').toString('utf8');
  const prefix = `${type}:`;
  if (!decoded.startsWith(prefix)) return null;
  const key = decoded.slice(prefix.length);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key) ? key : null;
}

/** base64url(JSON [listKey, value, id]). */
export function encodeCursor(listKey: string, position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([listKey, position.value, position.id]), 'utf8').toString('base64url');
}

/** The position of a cursor of this list, or null when it is not one. */
export function decodeCursor(cursor: string, listKey: string): KeysetPosition | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== listKey || typeof parsed[2] !== 'string') return null;
    return typeof parsed[1] === 'string' || typeof parsed[1] === 'number' ? { value: parsed[1], id: parsed[2] } : null;
  } catch {
    return null;
  }
}
