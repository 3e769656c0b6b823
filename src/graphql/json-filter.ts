import { BadUserInputError } from './errors';

/** Most levels of objects and arrays a JSON containment filter may nest (the outer object is level 1). */
export const MAX_JSON_FILTER_DEPTH = 5;
/** Largest JSON containment filter, in bytes of its UTF-8 JSON text. */
export const MAX_JSON_FILTER_BYTES = 4096;

/**
 * Rejects a JSON containment filter (PostgreSQL `@>` over a jsonb column) that is not an object, nests objects and
 * arrays deeper than {@link MAX_JSON_FILTER_DEPTH} levels, or is larger than {@link MAX_JSON_FILTER_BYTES}, naming
 * `argument` (e.g. "filter.metadata"); such a filter is a mistake or an attempt to make the database work hard.
 */
export function assertJsonContainmentFilter(value: unknown, argument: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadUserInputError(
      `\`${argument}\` must be a JSON object (e.g. {"plan": "pro"}), received ${Array.isArray(value) ? 'an array' : (JSON.stringify(value) ?? String(value))}.`,
      argument,
    );
  }
  if (depthOver(value, 1)) {
    throw new BadUserInputError(
      `\`${argument}\` must nest objects and arrays at most ${MAX_JSON_FILTER_DEPTH} levels deep, received a deeper value.`,
      argument,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > MAX_JSON_FILTER_BYTES) {
    throw new BadUserInputError(
      `\`${argument}\` must be at most ${MAX_JSON_FILTER_BYTES} bytes of JSON, received ${bytes} bytes.`,
      argument,
    );
  }
}

/** Whether `value`, an object or array at `level`, nests deeper than the limit; stops descending past it. */
function depthOver(value: object, level: number): boolean {
  if (level > MAX_JSON_FILTER_DEPTH) return true;
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null && depthOver(child as object, level + 1)) return true;
  }
  return false;
}
