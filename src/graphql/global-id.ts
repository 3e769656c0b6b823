import { BadUserInputError } from './errors';

/** The types that have global IDs. */
export type NodeTypeName = 'Session' | 'Message' | 'Conversation';

const NODE_TYPES: ReadonlySet<string> = new Set<NodeTypeName>(['Session', 'Message', 'Conversation']);
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Encodes an opaque global ID for a row: base64url of "Type:key". */
export function toGlobalId(type: NodeTypeName, key: string): string {
  return Buffer.from(`${type}:${key}`, 'utf8').toString('base64url');
}

/** Decodes any global ID; malformed IDs are BAD_USER_INPUT. */
export function fromGlobalId(id: string, argument = 'id'): { type: NodeTypeName; key: string } {
  const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(id) ? Buffer.from(id, 'base64url').toString('utf8') : '';
  const separator = decoded.indexOf(':');
  const type = decoded.slice(0, separator);
  const key = decoded.slice(separator + 1);
  if (separator < 1 || !NODE_TYPES.has(type) || !UUID_PATTERN.test(key)) {
    throw new BadUserInputError(`"${id}" is not a valid convoql ID; expected an ID returned by this API.`, argument);
  }
  return { type: type as NodeTypeName, key };
}

/** Decodes a global ID that must be of the given type; another type is BAD_USER_INPUT. */
export function fromGlobalIdOf(expected: NodeTypeName, id: string, argument = 'id'): string {
  const { type, key } = fromGlobalId(id, argument);
  if (type !== expected) {
    throw new BadUserInputError(`Expected the ID of a ${expected}, received the ID of a ${type}.`, argument);
  }
  return key;
}
