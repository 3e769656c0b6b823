import { toGlobalId } from '../graphql/global-id';
import { SessionTrace, ToolCallStatus, type RetrievalHit, type ToolCallTrace, type TraceError } from './trace.type';

/** The message fields the trace is built from. */
export interface TracedMessage {
  id: string;
  createdAt: Date;
  metadata: unknown;
}

/**
 * Builds a session trace from its messages (oldest first), reading the metadata shape documented in
 * the README. Bots write this data, so entries of the wrong shape are skipped, never fatal.
 */
export function buildTrace(messages: readonly TracedMessage[]): SessionTrace {
  const retrievals: RetrievalHit[] = [];
  const toolCalls: ToolCallTrace[] = [];
  const errors: TraceError[] = [];
  for (const message of messages) {
    if (!isRecord(message.metadata)) continue;
    const messageId = toGlobalId('Message', message.id);
    const at = message.createdAt;
    for (const hit of records(message.metadata.retrieval)) {
      const source = text(hit.source);
      if (source === null) continue;
      retrievals.push({ messageId, at, source, score: finite(hit.score), snippet: text(hit.snippet) });
    }
    for (const call of records(message.metadata.toolCalls)) {
      const name = text(call.name);
      if (name === null) continue;
      const failed = call.status === 'error' || call.status === 'ERROR';
      const durationMs = finite(call.durationMs);
      toolCalls.push({
        messageId,
        at,
        callId: text(call.id),
        name,
        arguments: call.arguments ?? null,
        result: call.result ?? null,
        status: failed ? ToolCallStatus.ERROR : ToolCallStatus.SUCCESS,
        error: failed ? (text(call.error) ?? 'failed') : null,
        durationMs: durationMs !== null && durationMs >= 0 ? Math.round(durationMs) : null,
      });
    }
    for (const error of records(message.metadata.errors)) {
      const text_ = text(error.message);
      if (text_ === null) continue;
      const recordedAt = typeof error.at === 'string' ? new Date(error.at) : null;
      errors.push({
        messageId,
        at: recordedAt && !Number.isNaN(recordedAt.getTime()) ? recordedAt : at,
        message: text_,
        code: text(error.code),
      });
    }
  }
  errors.sort((a, b) => a.at.getTime() - b.at.getTime());
  const trace = new SessionTrace();
  trace.retrievals = retrievals;
  trace.toolCalls = toolCalls;
  trace.errors = errors;
  trace.counts = {
    retrievals: retrievals.length,
    toolCalls: toolCalls.length,
    failedToolCalls: toolCalls.filter((call) => call.status === ToolCallStatus.ERROR).length,
    errors: errors.length,
  };
  return trace;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
