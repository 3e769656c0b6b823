import { unwrapResolverError } from '@apollo/server/errors';
import { isDatabaseUnavailable } from '../db/errors';
import { CLIENT_SAFE_CODES } from '../graphql/errors';

/**
 * The `extensions.code` a client receives for an error, decided as `maskError` decides it: the error's own
 * code when it is client-safe, SERVICE_UNAVAILABLE when the database cannot be reached (a pool timeout
 * included), INTERNAL_SERVER_ERROR for anything else. Logs and metrics count errors by this code, so they
 * use the same small set of values a client sees, never a code or message an error happened to carry.
 */
export function clientErrorCode(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  if (typeof code === 'string' && CLIENT_SAFE_CODES.has(code)) return code;
  return isDatabaseUnavailable(unwrapResolverError(error)) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
}

/** True when the error is one convoql expects and codes itself; false for a bug or an unreachable database. */
export function isCodedError(error: unknown): boolean {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' && CLIENT_SAFE_CODES.has(code);
}
