import { GraphQLError } from 'graphql';

/** The `extensions.code` values convoql's own errors carry; clients may rely on them. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'QUERY_TOO_COMPLEX'
  | 'THROTTLED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

/** Codes whose messages are safe to show a client as they are (ours and Apollo's request errors). */
export const CLIENT_SAFE_CODES: ReadonlySet<string> = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'QUERY_TOO_COMPLEX',
  'THROTTLED',
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

abstract class CodedError extends GraphQLError {
  constructor(message: string, code: ErrorCode, httpStatus?: number, extensions: Record<string, unknown> = {}) {
    // Apollo answers with `http.status` and strips it from the body; an operation that reached execution
    // answers 200 regardless (see executedOperationStatusPlugin), so the status matters before execution.
    super(message, { extensions: { code, ...extensions, ...(httpStatus ? { http: { status: httpStatus } } : {}) } });
  }
}

/** No API key, or an unknown or revoked one. */
export class UnauthenticatedError extends CodedError {
  constructor(message = 'A valid API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>".') {
    super(message, 'UNAUTHENTICATED', 401);
  }
}

/** The key is valid but may not do this. */
export class ForbiddenError extends CodedError {
  constructor(message: string) {
    super(message, 'FORBIDDEN', 403);
  }
}

/** The object does not exist for this tenant (other tenants' objects look exactly the same). */
export class NotFoundError extends CodedError {
  constructor(typeName: string, id: string) {
    super(`No ${typeName} with id "${id}".`, 'NOT_FOUND');
  }
}

/** An argument is malformed or out of range; `argument` names it. */
export class BadUserInputError extends CodedError {
  constructor(message: string, argument?: string) {
    super(message, 'BAD_USER_INPUT', undefined, argument ? { argument } : {});
  }
}

/** The query is larger, deeper or costlier than the configured limits allow. */
export class QueryTooComplexError extends CodedError {
  constructor(message: string, limits: Record<string, number>) {
    super(message, 'QUERY_TOO_COMPLEX', 400, limits);
  }
}

/** The API key's cost budget or its tenant's operations in flight are used up; retry after `retryAfterMs`. Nothing ran. */
export class ThrottledError extends CodedError {
  constructor(message: string, details: { readonly retryAfterMs: number } & Record<string, unknown>) {
    super(message, 'THROTTLED', 429, { ...details, retryAfterSeconds: Math.ceil(details.retryAfterMs / 1000) });
  }
}

/** The database cannot be reached; the request may be retried. */
export class ServiceUnavailableError extends CodedError {
  constructor(message = 'The database is unavailable; try again shortly.') {
    super(message, 'SERVICE_UNAVAILABLE', 503);
  }
}
