import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';
import { isDatabaseUnavailable } from '../db/errors';
import { CLIENT_SAFE_CODES } from '../graphql/errors';

/**
 * The `extensions.code` a client receives for an error; `maskError` answers with it, and logs and metrics count
 * errors by it, so all three use the same small set of values: the error's own code when it is client-safe,
 * BAD_REQUEST for Apollo's uncoded request errors, SERVICE_UNAVAILABLE when the database cannot be reached (a pool
 * timeout included), INTERNAL_SERVER_ERROR for anything else.
 */
export function clientErrorCode(error: unknown): string {
  return expectedCode(error) ?? (isDatabaseUnavailable(unwrapResolverError(error)) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR');
}

/** True when the client's code says what went wrong with its request; false for a bug or an unreachable database. */
export function isCodedError(error: unknown): boolean {
  return expectedCode(error) !== undefined;
}

function expectedCode(error: unknown): string | undefined {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  if (typeof code === 'string' && CLIENT_SAFE_CODES.has(code)) return code;
  return isCodelessRequestError(error) ? 'BAD_REQUEST' : undefined;
}

/**
 * Apollo's own request errors without a code (a persisted query whose hash does not match its text, an unknown
 * persisted query version) carry a 4xx status: the request is wrong, not the server.
 */
function isCodelessRequestError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.extensions.code !== undefined || error.originalError) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
