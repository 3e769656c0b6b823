import { BadUserInputError } from './errors';
import { jsonDepth } from './scalars';

/** Deepest nesting of objects and arrays a metadata filter may have (`{"a": {"b": 1}}` is 2 levels). */
export const MAX_METADATA_FILTER_DEPTH = 5;
/** Largest metadata filter, in bytes of its JSON (UTF-8). */
export const MAX_METADATA_FILTER_BYTES = 4096;
/** Longest full-text query, in characters. */
export const MAX_SEARCH_TEXT_LENGTH = 500;

/**
 * Rejects a metadata containment filter that is not a JSON object, nests deeper than {@link MAX_METADATA_FILTER_DEPTH}
 * levels or is larger than {@link MAX_METADATA_FILTER_BYTES}, naming `argument` (e.g. `filter.metadata`). The bounds
 * keep a containment test cheap for PostgreSQL and a filter's parameter small.
 */
export function assertMetadataFilter(value: unknown, argument: string): void {
  if (value == null) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadUserInputError(
      `${argument} must be a JSON object, received ${Array.isArray(value) ? 'an array' : typeof value}.`,
      argument,
    );
  }
  const depth = jsonDepth(value, MAX_METADATA_FILTER_DEPTH + 1);
  if (depth > MAX_METADATA_FILTER_DEPTH) {
    throw new BadUserInputError(
      `${argument} may nest objects and arrays at most ${MAX_METADATA_FILTER_DEPTH} levels deep, received more.`,
      argument,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > MAX_METADATA_FILTER_BYTES) {
    throw new BadUserInputError(`${argument} may be at most ${MAX_METADATA_FILTER_BYTES} bytes as JSON, received ${bytes}.`, argument);
  }
}

/** Rejects a full-text query longer than {@link MAX_SEARCH_TEXT_LENGTH} characters, naming `argument`. */
export function assertSearchText(value: string | null | undefined, argument: string): void {
  if (value != null && value.length > MAX_SEARCH_TEXT_LENGTH) {
    throw new BadUserInputError(`${argument} may be at most ${MAX_SEARCH_TEXT_LENGTH} characters, received ${value.length}.`, argument);
  }
}
