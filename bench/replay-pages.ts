// The replay operations' variables: the first page of the long LangGraph thread and a late one (90% in).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeCursor, toGlobalId } from './baseline/encoding';
import { withClient, type BenchDatabase, type Fixtures } from './dataset';
import { requestOnce } from './load';
import { PAGE_SIZE, requestBody, type SkippedOperation } from './operations';
import type { ServerProcess } from './processes';

/** Variables of the two replay pages, and where the late one starts. */
export interface ReplayPages {
  firstPage: Record<string, unknown>;
  latePage: Record<string, unknown>;
  lateOrdinal: number;
  totalSteps: number;
}

/**
 * Asks convoql how many steps the long thread has (its first replay builds the step index on demand, a one-off cost
 * that is not measured; the index is ANALYZEd afterwards), or tells why the replay pages cannot run.
 */
export async function findReplayPages(
  projectRoot: string,
  database: BenchDatabase,
  convoql: ServerProcess,
  documents: Map<string, string>,
  fixtures: Fixtures,
  log: (line: string) => void,
): Promise<ReplayPages | SkippedOperation[]> {
  const skip = (reason: string): SkippedOperation[] => [
    { key: 'replay-first-page', label: 'replay, first page', reason },
    { key: 'replay-late-page', label: 'replay, late page', reason },
  ];
  const schema = readFileSync(path.join(projectRoot, 'schema.graphql'), 'utf8');
  if (!/\breplay\(/.test(schema) || !documents.has('ConversationReplay')) {
    return skip(
      'Conversation.replay is not in this build yet (no `replay(` in schema.graphql or no ConversationReplay in examples/dashboard)',
    );
  }
  if (fixtures.longThreadConversationKey === null) return skip('the dataset has no long LangGraph thread (--long-thread-steps 0)');
  const id = toGlobalId('Conversation', fixtures.longThreadConversationKey);
  const probe = {
    key: 'replay-probe',
    label: 'replay probe',
    operationName: 'ConversationReplay',
    body: requestBody(documents, 'ConversationReplay', { id, first: 1 }),
  };
  const indexed = performance.now();
  const answer = await requestOnce(convoql, probe, fixtures.apiKey);
  const totalSteps = (answer.body as { data?: { conversation?: { replay?: { totalCount?: number } } } }).data?.conversation?.replay
    ?.totalCount;
  if (answer.status !== 200 || typeof totalSteps !== 'number' || totalSteps < 2 * PAGE_SIZE) {
    return skip(`the replay probe did not answer with enough steps: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  // A freshly written index has no statistics yet, and plans over it would be guesses.
  await withClient(database.url, (client) => client.query('ANALYZE conversation_step_index'));
  log(
    `replay: the long thread has ${totalSteps} steps (first answer, with the step index built on demand, in ${((performance.now() - indexed) / 1000).toFixed(1)} s)`,
  );
  const lateOrdinal = Math.min(totalSteps - PAGE_SIZE, Math.floor(totalSteps * 0.9));
  return {
    firstPage: { id, first: PAGE_SIZE },
    // Replay cursors are bound to their conversation (and namespace, here the root's).
    latePage: {
      id,
      first: PAGE_SIZE,
      after: encodeCursor(`ReplayStep:${fixtures.longThreadConversationKey}:`, { value: lateOrdinal, id: String(lateOrdinal) }),
    },
    lateOrdinal,
    totalSteps,
  };
}
