import { encodeCursor, toKeysetPage, type CursorShape } from '../graphql/connection';

/** Largest ordinal a cursor may carry (ordinals are PostgreSQL integers in the step index). */
const MAX_ORDINAL = 2_147_483_647;

/** Replay cursors hold a step's ordinal, as the sort value and as the id. */
export const ORDINAL: CursorShape = {
  description: 'a step ordinal',
  isValid: ({ value, id }) =>
    typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ORDINAL && id === String(value),
};

/** The list key of a conversation's replay in one namespace: a cursor is only meaningful within the thread it was read from. */
export function replayListKey(conversationKey: string, namespace: string): string {
  return `ReplayStep:${conversationKey}:${namespace}`;
}

/** The cursor of a replay step, as `Conversation.replay` and `replayTail` give it. */
export function replayCursor(listKey: string, ordinal: number): string {
  return encodeCursor(listKey, { value: ordinal, id: String(ordinal) });
}

/**
 * The ordinal an `after` cursor of the replay holds (0 without one); a cursor that is not one of this list's is
 * refused with BAD_USER_INPUT naming `argument`.
 */
export function ordinalAfter(listKey: string, after: string | null | undefined): number {
  const page = toKeysetPage({ after: after ?? null }, listKey, ORDINAL);
  return page.seek === null ? 0 : (page.seek.value as number);
}
