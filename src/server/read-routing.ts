import type { GatewayExecutor } from '@apollo/server-gateway-interface';
import { GraphQLError, OperationTypeNode } from 'graphql';
import type { RequestContext } from '../core/context';
import type { Database } from '../db/client';
import { isDatabaseUnavailable } from '../db/errors';
import type { ReadReplicas } from '../db/read-replicas';
import { readingFrom } from './context';

/**
 * The request header with which a client asks that a query read from the primary: `x-convoql-consistency: primary`
 * (for a dashboard that must see what it just wrote). Any other value, or none, lets a query read from a replica.
 */
export const CONSISTENCY_HEADER = 'x-convoql-consistency';

/**
 * Where an operation reads from, decided here and nowhere else (docs/decisions/0012): a query from a read replica, unless
 * the client sent `x-convoql-consistency: primary`; a mutation (its payload included, so that it reads its own write)
 * and anything else from the primary. Null means the primary.
 */
export function readerFor(
  operation: OperationTypeNode | undefined,
  headers: { get(name: string): string | null | undefined } | undefined,
  replicas: ReadReplicas,
): Database | null {
  if (operation !== OperationTypeNode.QUERY) return null;
  if (headers?.get(CONSISTENCY_HEADER)?.trim().toLowerCase() === 'primary') return null;
  const reader = replicas.reader();
  return reader === replicas.primary ? null : reader;
}

/**
 * Wraps an executor so that each query runs against the database {@link readerFor} chooses. A query that failed on a
 * replica because it could not be reached (connection refused, reset, timed out) takes that replica out and runs once
 * more on the primary, with the request's untouched context, so that a client sees no error while a replica goes down;
 * so does a query whose statement the replica cancelled for a conflict with recovery (the replica stays in).
 */
export function routeReads(
  executor: GatewayExecutor,
  replicas: ReadReplicas,
  /** Counts where each query read (`convoql_replica_reads_total`). */
  onRead: (target: 'replica' | 'primary' | 'retried') => void = () => undefined,
): GatewayExecutor {
  return async (request) => {
    const context = request.context as RequestContext;
    const operation = request.operation?.operation;
    const reader = readerFor(operation, request.request.http?.headers, replicas);
    if (!reader) {
      if (operation === OperationTypeNode.QUERY) onRead('primary');
      return executor(request);
    }
    const result = await executor({ ...request, context: readingFrom(context, reader) });
    // A statement (or session) ended by replay is the replica working as it should; a lost connection takes it out.
    const causes = result.errors?.map(causeOf) ?? [];
    const cancelled = causes.find(isRecoveryConflict);
    const lost = cancelled === undefined ? causes.find(isDatabaseUnavailable) : undefined;
    if (cancelled === undefined && lost === undefined) {
      onRead('replica');
      return result;
    }
    onRead('retried');
    if (lost !== undefined) replicas.reportFailure(reader, lost);
    context.logger.debug({ err: cancelled ?? lost }, 'a query failed on its read replica; running it again on the primary');
    return executor(request);
  };
}

/**
 * True for a statement a hot standby cancelled because replay had to remove rows it still saw ("canceling statement due
 * to conflict with recovery"): the same query runs on the primary instead.
 */
function isRecoveryConflict(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { message, cause } = current as { message?: unknown; cause?: unknown };
    if (typeof message === 'string' && /conflict with recovery/i.test(message)) return true;
    current = cause;
  }
  return false;
}

/** The error a resolver threw, beneath the GraphQLErrors that carry it. */
function causeOf(error: unknown): unknown {
  let current = error;
  for (let depth = 0; current instanceof GraphQLError && current.originalError && depth < 5; depth++) current = current.originalError;
  return current;
}
