// The operations the benchmark sends: documents from examples/dashboard/, with variables built from the fixtures.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, print, visit, type DefinitionNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { toGlobalId } from './baseline/encoding';
import type { Fixtures } from './dataset';
import type { ReplayPages } from './replay-pages';

/** One benchmarked request: a dashboard operation with fixed variables. */
export interface BenchOperation {
  /** Stable key for --only and the JSON results. */
  readonly key: string;
  readonly label: string;
  readonly operationName: string;
  /** The HTTP body both servers receive. */
  readonly body: string;
  /** For writes: a fresh body for each request under load (`body` is the first one sent alone). */
  readonly nextBody?: () => string;
  /** Request headers beside content type and key (e.g. `x-convoql-consistency: primary`). */
  readonly headers?: Record<string, string>;
}

/** An operation that cannot run in this build or on this dataset, and why. */
export interface SkippedOperation {
  readonly key: string;
  readonly label: string;
  readonly reason: string;
}

const DAY_MS = 86_400_000;
/** Rows per page of the tables, as the issue specifies. */
export const PAGE_SIZE = 50;

/** Reads every operation (with the fragments it spreads) of examples/dashboard/*.graphql, by name. */
export function loadDashboardDocuments(projectRoot: string): Map<string, string> {
  const directory = path.join(projectRoot, 'examples', 'dashboard');
  const definitions: DefinitionNode[] = readdirSync(directory)
    .filter((name) => name.endsWith('.graphql'))
    .sort()
    .flatMap((name) => parse(readFileSync(path.join(directory, name), 'utf8')).definitions);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const documents = new Map<string, string>();
  for (const definition of definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION || !definition.name) continue;
    documents.set(definition.name.value, [definition, ...fragmentsUsedBy(definition, fragments)].map((node) => print(node)).join('\n\n'));
  }
  return documents;
}

function fragmentsUsedBy(
  root: OperationDefinitionNode | FragmentDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
): FragmentDefinitionNode[] {
  const found = new Map<string, FragmentDefinitionNode>();
  const walk = (node: OperationDefinitionNode | FragmentDefinitionNode) =>
    visit(node, {
      FragmentSpread(spread) {
        const fragment = fragments.get(spread.name.value);
        if (fragment && !found.has(fragment.name.value)) {
          found.set(fragment.name.value, fragment);
          walk(fragment);
        }
      },
    });
  walk(root);
  return [...found.values()];
}

/** Builds the GraphQL HTTP body of an operation. */
export function requestBody(documents: Map<string, string>, operationName: string, variables: Record<string, unknown>): string {
  const query = documents.get(operationName);
  if (query === undefined) throw new Error(`Expected an operation named ${operationName} in examples/dashboard/*.graphql, found none`);
  return JSON.stringify({ query, operationName, variables });
}

/**
 * The light requests a dashboard and a router send many of, beside the dashboard's own documents: a row refetch, a
 * `node` lookup, a router's entity fetch, and the GraphQL pipeline alone (`__typename`).
 */
const LIGHT_DOCUMENTS = {
  Typename: 'query Typename { __typename }',
  SessionRef: 'query SessionRef($id: ID!) { session(id: $id) { id } }',
  NodeSession: 'query NodeSession($id: ID!) { node(id: $id) { id ... on Session { sessionId status } } }',
  SessionEntities:
    'query SessionEntities($representations: [_Any!]!) { _entities(representations: $representations) { ... on Session { id sessionId status } } }',
};

/** The issue's operations, in table order; the replay pages need their cursor found first (see replay.ts). */
export function buildOperations(
  documents: Map<string, string>,
  fixtures: Fixtures,
  replay: ReplayPages | SkippedOperation[],
): { operations: BenchOperation[]; skipped: SkippedOperation[] } {
  const now = fixtures.now.getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  const all = new Map([...documents, ...Object.entries(LIGHT_DOCUMENTS)]);
  const operation = (key: string, label: string, operationName: string, variables: Record<string, unknown>): BenchOperation => ({
    key,
    label,
    operationName,
    body: requestBody(all, operationName, variables),
  });
  const detailId = toGlobalId('Session', fixtures.detailSessionKey);
  const operations: BenchOperation[] = [
    operation('sessions-table', `sessions table: ${PAGE_SIZE} rows, CLOSED, last 14 days`, 'SessionsTable', {
      first: PAGE_SIZE,
      filter: { status: ['CLOSED'], startedAfter: iso(now - 14 * DAY_MS), startedBefore: iso(now) },
    }),
    operation('sessions-first-page', `sessions, first page (unfiltered)`, 'SessionsTable', { first: PAGE_SIZE }),
    operation('sessions-deep-page', `sessions, page after ${fixtures.deepPageOffset.toLocaleString('en-US')}`, 'SessionsTable', {
      first: PAGE_SIZE,
      after: fixtures.deepPageCursor,
    }),
    operation(
      'session-detail',
      `session detail: ${Math.min(PAGE_SIZE, fixtures.detailSessionMessages)} messages + trace`,
      'SessionDetail',
      { id: detailId, first: PAGE_SIZE },
    ),
    operation('session-panel', `session panel: 8 fields + ${PAGE_SIZE} messages, no trace`, 'SessionPanel', {
      id: detailId,
      first: PAGE_SIZE,
    }),
    operation('typename', '{ __typename }', 'Typename', {}),
    operation('session-ref', '{ session(id) { id } }', 'SessionRef', { id: detailId }),
    operation('node-session', 'node(id) of a Session', 'NodeSession', { id: detailId }),
    operation('entities-20', '_entities of 20 Sessions', 'SessionEntities', {
      representations: fixtures.entitySessionKeys.map((key) => ({ __typename: 'Session', id: toGlobalId('Session', key) })),
    }),
    operation('conversations-table', `conversations table: ${PAGE_SIZE} rows`, 'ConversationsTable', { first: PAGE_SIZE }),
  ];
  const skipped: SkippedOperation[] = [];
  if (Array.isArray(replay)) skipped.push(...replay);
  else {
    operations.push(
      operation('replay-first-page', `replay, first ${PAGE_SIZE} steps`, 'ConversationReplay', replay.firstPage),
      operation('replay-late-page', `replay, ${PAGE_SIZE} steps after #${replay.lateOrdinal}`, 'ConversationReplay', replay.latePage),
    );
  }
  operations.push(
    operation('usage-30-days', 'usage tiles: 30 days by day', 'UsageTiles', {
      groupBy: 'DAY',
      filter: { from: iso(now - 30 * DAY_MS), to: iso(now) },
    }),
  );
  return { operations, skipped };
}
