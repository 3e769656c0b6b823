/**
 * Checks the replay engine against LangGraph's own reading of the same rows (getStateHistory): lineage, new messages
 * per checkpoint and their contents, tool call ids, producer tasks and nodes, interrupts, errors and timestamps.
 */
import type { ClientBase } from 'pg';
import type { StateSnapshot } from '@langchain/langgraph';
import { isAIMessage, isToolMessage, type BaseMessage } from '@langchain/core/messages';
import { CheckpointBlobStore, CheckpointWriteStore, orderCheckpointLineage } from '../../src/replay/checkpoint.rows';
import { transformThread, type ReplayStep } from '../../src/replay/replay.transformer';
import { getLangGraphHistory, type FixtureName, type SaverOptions } from '../fixtures/langgraph/langgraph.fixtures';
import { loadThreadRows } from './checkpoint-rows';

const MESSAGE_STEP_TYPES = new Set(['USER_MESSAGE', 'ASSISTANT_MESSAGE', 'REASONING', 'TOOL_CALL', 'TOOL_RESULT']);

/** What a comparison produced, for further scenario-specific assertions. */
export interface ComparedThread {
  steps: ReplayStep[];
  /** LangGraph's snapshots, oldest first. */
  snapshots: StateSnapshot[];
}

/** Transforms one (thread, namespace) from its rows and asserts it agrees with LangGraph's getStateHistory(). */
export async function compareWithLangGraph(
  client: ClientBase,
  url: string,
  fixture: FixtureName,
  threadId: string,
  namespace = '',
  saverOptions: SaverOptions = {},
): Promise<ComparedThread> {
  const rows = await loadThreadRows(client, threadId, namespace);
  const steps = transformThread({
    checkpoints: rows.checkpoints,
    blobs: new CheckpointBlobStore(rows.blobs),
    writes: new CheckpointWriteStore(rows.writes),
  });
  const snapshots = (await getLangGraphHistory(url, fixture, threadId, namespace, saverOptions)).reverse();

  expect(orderCheckpointLineage(rows.checkpoints).map((row) => row.checkpointId)).toEqual(
    snapshots.map((snapshot) => snapshot.config.configurable?.checkpoint_id),
  );
  expect(steps.map((step) => step.ordinal)).toEqual(steps.map((_, index) => index + 1));
  expect(new Set(steps.map((step) => step.namespace))).toEqual(new Set(steps.length > 0 ? [namespace] : []));

  snapshots.forEach((snapshot, index) => {
    const parent = index === 0 ? undefined : snapshots[index - 1];
    compareCheckpoint(snapshot, parent, stepsAt(steps, snapshot));
  });
  return { steps, snapshots };
}

/** The steps stored at a snapshot's checkpoint. */
export function stepsAt(steps: readonly ReplayStep[], snapshot: StateSnapshot): ReplayStep[] {
  return steps.filter((step) => step.checkpointId === snapshot.config.configurable?.checkpoint_id);
}

/** The messages of a snapshot's state. */
export function messagesOf(snapshot: StateSnapshot | undefined): BaseMessage[] {
  const values = (snapshot?.values ?? {}) as { messages?: BaseMessage[] };
  return values.messages ?? [];
}

function compareCheckpoint(snapshot: StateSnapshot, parent: StateSnapshot | undefined, steps: ReplayStep[]): void {
  const checkpointId = snapshot.config.configurable?.checkpoint_id as string;
  const context = `checkpoint ${checkpointId} (step ${snapshot.metadata?.step}, ${snapshot.metadata?.source})`;
  for (const step of steps) expect({ context, timestamp: step.timestamp }).toEqual({ context, timestamp: snapshot.createdAt });

  const parentIds = new Set(messagesOf(parent).map((message) => message.id));
  const fresh = messagesOf(snapshot).filter((message) => !parentIds.has(message.id) && message.getType() !== 'system');
  const messageSteps = steps.filter((step) => MESSAGE_STEP_TYPES.has(step.type));
  expect({ context, messageIds: [...new Set(messageSteps.map((step) => step.messageId))] }).toEqual({
    context,
    messageIds: fresh.map((message) => message.id),
  });

  const duration = parent === undefined ? null : Date.parse(snapshot.createdAt ?? '') - Date.parse(parent.createdAt ?? '');
  for (const step of messageSteps) expect({ context, durationMs: step.durationMs }).toEqual({ context, durationMs: duration });
  for (const message of fresh)
    compareMessage(
      message,
      messageSteps.filter((step) => step.messageId === message.id),
    );

  if (snapshot.metadata?.source === 'update') {
    expect(steps[0]?.type).toBe('STATE_UPDATE');
  } else if (parent !== undefined && messageSteps.length > 0) {
    // LangGraph's own plan of the tasks run from the parent: ids and node names must match the producers found.
    const parentTasks = new Map(parent.tasks.map((task) => [task.id, task.name]));
    for (const step of messageSteps) {
      expect({ context, taskId: step.taskId, node: step.node }).toEqual({
        context,
        taskId: step.taskId,
        node: parentTasks.get(step.taskId ?? ''),
      });
      expect(parentTasks.has(step.taskId ?? '')).toBe(true);
    }
  }

  const interrupts = steps.filter((step) => step.type === 'INTERRUPT');
  expect(interrupts.map((step) => ({ id: step.interruptId, value: step.params, taskId: step.taskId, node: step.node }))).toEqual(
    snapshot.tasks.flatMap((task) =>
      task.interrupts.map((interrupt) => ({ id: interrupt.id, value: interrupt.value, taskId: task.id, node: task.name })),
    ),
  );
  const errors = steps.filter((step) => step.type === 'ERROR');
  expect(errors.map((step) => ({ message: step.content, taskId: step.taskId, node: step.node }))).toEqual(
    snapshot.tasks
      .filter((task) => task.error !== undefined)
      .map((task) => ({ message: (task.error as Error).message, taskId: task.id, node: task.name })),
  );
}

function compareMessage(message: BaseMessage, steps: ReplayStep[]): void {
  const context = `message ${message.id}`;
  const type = message.getType();
  if (type === 'human') {
    expect({ context, steps: steps.map((step) => [step.type, step.content]) }).toEqual({
      context,
      steps: [['USER_MESSAGE', message.text]],
    });
    return;
  }
  if (isToolMessage(message)) {
    expect({ context, steps: steps.map((step) => [step.type, step.toolCallId, step.toolName, step.status, step.content]) }).toEqual({
      context,
      steps: [['TOOL_RESULT', message.tool_call_id, message.name, message.status ?? 'success', message.text]],
    });
    return;
  }
  if (isAIMessage(message)) {
    const toolCalls = message.tool_calls ?? [];
    expect(steps.filter((step) => step.type === 'TOOL_CALL').map((step) => [step.toolCallId, step.toolName, step.params])).toEqual(
      toolCalls.map((call) => [call.id, call.name, call.args]),
    );
    const text = steps.find((step) => step.type === 'ASSISTANT_MESSAGE');
    if (message.text !== '') expect(text?.content).toBe(message.text);
    const usage = message.usage_metadata;
    expect(steps[0]?.tokens ?? null).toEqual(
      usage === undefined
        ? null
        : {
            input: usage.input_tokens,
            output: usage.output_tokens,
            total: usage.total_tokens,
            reasoning: usage.output_token_details?.reasoning ?? null,
          },
    );
    expect(steps.slice(1).every((step) => step.tokens === null)).toBe(true);
    const model = (message.response_metadata as { model_name?: string }).model_name ?? null;
    expect(steps.every((step) => step.model === model)).toBe(true);
    return;
  }
  throw new Error(`${context}: unexpected message type ${type}`);
}
