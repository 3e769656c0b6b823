import type { Config } from '../config';
import { UserErrorCode } from '../graphql/user-error';
import { jsonDepth } from '../graphql/scalars';

/**
 * The limits of what writers may send (upsertSession, appendMessages, the importer), checked without touching the
 * database: a refused write names each problem by its path below the input and writes nothing.
 */

/** Metadata key that links a session to a LangGraph thread; `sessions.thread_id` is set from it by the trigger `sessions_thread_id`. */
export const THREAD_ID_METADATA_KEY = 'threadId';
/** Longest bot session id, channel and thread id, in characters. */
export const MAX_ID_LENGTH = 200;

/** A refused part of a write's input: the path below the input (e.g. `["messages", "3", "content"]`), a code and why. */
export interface WriteProblem {
  readonly path: readonly string[];
  readonly code: UserErrorCode;
  readonly message: string;
}

/** Most messages one appendMessages call may carry (the API's contract). */
export const MAX_APPEND_BATCH = 500;

/** A required identifier: not blank, at most {@link MAX_ID_LENGTH} characters. */
export function checkId(value: string, path: readonly string[], name: string): WriteProblem[] {
  if (value.trim() === '') return [{ path, code: UserErrorCode.BLANK, message: `${name} must not be blank.` }];
  if (value.includes('\u0000')) return [nulCharacter(path)];
  if (value.length > MAX_ID_LENGTH) {
    return [
      { path, code: UserErrorCode.TOO_LONG, message: `${name} may be at most ${MAX_ID_LENGTH} characters, received ${value.length}.` },
    ];
  }
  return [];
}

/** A written timestamp no further ahead of `now` than INGEST_MAX_FUTURE_SECONDS. */
export function checkNotInFuture(config: Config, value: Date, path: readonly string[], now: Date): WriteProblem[] {
  const aheadMs = value.getTime() - now.getTime();
  if (aheadMs <= config.ingest.maxFutureSeconds * 1000) return [];
  return [
    {
      path,
      code: UserErrorCode.IN_FUTURE,
      message: `${path.join('.')} may be at most ${config.ingest.maxFutureSeconds} s after the server's clock (${now.toISOString()}), received ${value.toISOString()}.`,
    },
  ];
}

/** Written metadata within INGEST_MAX_METADATA_DEPTH levels and INGEST_MAX_METADATA_BYTES bytes of JSON. */
export function checkMetadata(config: Config, value: Record<string, unknown>, path: readonly string[]): WriteProblem[] {
  const { maxMetadataDepth, maxMetadataBytes } = config.ingest;
  if (jsonDepth(value, maxMetadataDepth + 1) > maxMetadataDepth) {
    return [
      {
        path,
        code: UserErrorCode.TOO_DEEP,
        message: `${path.join('.')} may nest objects and arrays at most ${maxMetadataDepth} levels deep, received more.`,
      },
    ];
  }
  // PostgreSQL's jsonb refuses U+0000 in keys and strings.
  if (holdsNul(value)) return [nulCharacter(path)];
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > maxMetadataBytes) {
    return [
      {
        path,
        code: UserErrorCode.TOO_LONG,
        message: `${path.join('.')} may be at most ${maxMetadataBytes} bytes as JSON, received ${bytes}.`,
      },
    ];
  }
  return [];
}

/** The problem of text holding U+0000, which PostgreSQL cannot store in text or jsonb. */
export function nulCharacter(path: readonly string[]): WriteProblem {
  return {
    path,
    code: UserErrorCode.UNSUPPORTED_CHARACTER,
    message: `${path.join('.')} contains the character U+0000 (NUL), which cannot be stored; remove or replace it.`,
  };
}

/** Whether a key or string anywhere in a JSON value contains U+0000. */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([key, child]) => key.includes('\u0000') || holdsNul(child));
}
