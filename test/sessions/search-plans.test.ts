// The text and metadata filters' plans use their GIN indexes. On a few rows the planner rightly prefers scanning, so
// this file builds a dataset large enough (8,000 sessions, 32,000 messages of one tenant, analyzed) for it to prefer
// the indexes by itself: a condition on an expression the index does not hold (another text search configuration
// literal, a cast) shows here as a sequential scan. Built by SQL in a second or two, even on PGlite. A word in one
// message of 5,000 (`needle`) is read from the index; a word in nearly every message (`hay`) is tested on the newest
// rows, and no plan parses message content: they read the stored documents (docs/decisions/0016, 0019).
import { Prisma, type Database } from '../../src/db/client';
import type { TenantContext } from '../../src/core/context';
import { listConversationPage } from '../../src/conversations/conversation.repository';
import { ConversationOrderField, type ConversationFilter } from '../../src/conversations/conversation.inputs';
import { OrderDirection } from '../../src/graphql/order';
import { sessionListWhere } from '../../src/sessions/session.list';
import { messageSearchFrom, messageSearchWhere } from '../../src/sessions/message-search.list';
import { searchMessagePage } from '../../src/sessions/message-search.repository';
import { MessageSearchOrder } from '../../src/sessions/message-search.inputs';
import { listSessionPage } from '../../src/sessions/session.repository';
import { SessionOrderField, type SessionFilter } from '../../src/sessions/session.inputs';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.db.prisma.$executeRawUnsafe(`
    INSERT INTO sessions (id, tenant_id, external_id, channel, status, started_at, last_activity_at, metadata)
    SELECT gen_random_uuid(), 'acme', 'bulk-' || i, 'web', 'ACTIVE', now() - i * interval '1 minute', now(),
      jsonb_build_object('plan', 'p' || (i % 1000), 'tier', i % 3)
    FROM generate_series(1, 8000) i`);
  await server.db.prisma.$executeRawUnsafe(`
    INSERT INTO messages (id, tenant_id, session_id, role, content, created_at, metadata)
    SELECT gen_random_uuid(), 'acme', s.id, 'USER',
      'hello there word' || (n % 50) || ' common text ' || CASE WHEN n % 5000 = 0 THEN 'needle' ELSE 'hay' END, s.started_at + n * interval '1 second', '{}'
    FROM sessions s CROSS JOIN generate_series(1, 4) k CROSS JOIN LATERAL (SELECT (hashtext(s.id::text) & 1048575) * 4 + k AS n) x
    WHERE s.tenant_id = 'acme'`);
  // 4,000 agent threads with run metadata, and eight search steps each (one thread in 1,000 has the rare word).
  await server.db.prisma.$executeRawUnsafe(`
    INSERT INTO conversations (id, tenant_id, thread_id, title, created_at, last_activity_at, metadata)
    SELECT gen_random_uuid(), 'acme', 'bulk-thread-' || i, 'thread ' || i, now() - i * interval '1 minute', now() - i * interval '1 minute',
      jsonb_build_object('plan', 'p' || (i % 1000), 'tier', i % 3)
    FROM generate_series(1, 4000) i`);
  await server.db.prisma.$executeRawUnsafe(`
    INSERT INTO conversation_search_steps (conversation_id, checkpoint_id, ordinal, type, content, tsv)
    SELECT c.id, 'cp-' || k, k, 'USER_MESSAGE', x.content, to_tsvector('simple', x.content)
    FROM conversations c CROSS JOIN generate_series(1, 8) k
    CROSS JOIN LATERAL (SELECT 'hello there word' || (hashtext(c.id::text || k) & 8191) || ' common text ' ||
      CASE WHEN c.thread_id LIKE '%000' AND k = 1 THEN 'needle' ELSE 'hay' END AS content) x
    WHERE c.tenant_id = 'acme'`);
  // VACUUM also moves the rows inserted since the GIN indexes were built from their pending lists into the indexes,
  // as autovacuum would: a long pending list makes an index scan look costly to the planner.
  for (const table of ['sessions', 'messages', 'session_search_documents', 'conversations', 'conversation_search_steps'])
    await server.db.prisma.$executeRawUnsafe(`VACUUM (ANALYZE) ${table}`);
}, 300_000);

afterAll(() => server?.close());

async function plan(statement: Prisma.Sql, verbose = false): Promise<string> {
  const rows = await server.db.prisma.$queryRaw<{ 'QUERY PLAN': string }[]>(
    Prisma.sql`EXPLAIN ${Prisma.raw(verbose ? '(VERBOSE) ' : '')}${statement}`,
  );
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

const acme = () => ({ viewer: { tenantId: 'acme' }, config: server.config, db: server.db }) as unknown as TenantContext;

it('the metadata filter uses the GIN index on sessions.metadata', async () => {
  const where = sessionListWhere(acme(), { metadata: { plan: 'p7' } });
  expect(await plan(Prisma.sql`SELECT count(*) FROM sessions s WHERE ${where}`)).toMatch(/Bitmap Index Scan on sessions_metadata_idx/);
});

it('the sessions text filter uses the GIN index on (tenant, session document), and a word needs no message read', async () => {
  const where = sessionListWhere(acme(), { text: 'needle' });
  const text = await plan(Prisma.sql`SELECT count(*) FROM sessions s WHERE ${where}`);
  expect(text).toMatch(
    /Bitmap Index Scan on session_search_documents_document_idx[^\n]*\n\s+Index Cond: \(\(tenant_id = [^)]+\) AND \(document @@/,
  );
  // The query is folded to a constant at planning: a word proves the match, so only an overflowed session tests messages.
  expect(text).toMatch(/\(NOT (d\.)?overflow\) OR /);
});

it("several words select candidates by the session document and test the candidates' messages", async () => {
  const where = sessionListWhere(acme(), { text: 'needle common' });
  const text = await plan(Prisma.sql`SELECT count(*) FROM sessions s WHERE ${where}`);
  expect(text).toMatch(
    /Index Cond: \(\(tenant_id = [^)]+\) AND \(document @@ '''needle'' & ''common'' \| ''convoql overflow'''::tsquery\)\)/,
  );
  expect(text).toMatch(/content_tsv @@ '''needle'' & ''common'''::tsquery/);
  expect(text).not.toMatch(/overflow\)/);
});

it('searchMessages uses the GIN index on (tenant, stored document) of messages: the tenant is an index condition', async () => {
  const where = messageSearchWhere(acme(), 'needle', null);
  const text = await plan(Prisma.sql`SELECT count(*) FROM ${messageSearchFrom(null)} WHERE ${where}`);
  expect(text).toMatch(/Bitmap Index Scan on messages_content_tsv_idx[^\n]*\n\s+Index Cond: \(\(tenant_id = [^)]+\) AND \(content_tsv @@/);
  expect(text).not.toMatch(/Filter: .*tenant_id/);
});

/** A plan node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** The statements `read` sends through `db.queryRows` (the repositories' hand-written reads), each with its parameters. */
async function repositoryReads(read: (context: TenantContext) => Promise<unknown>): Promise<Prisma.Sql[]> {
  const sent: Prisma.Sql[] = [];
  const db: Database = {
    ...server.db,
    queryRows: <T>(statement: Prisma.Sql) => {
      sent.push(statement);
      return server.db.queryRows<T>(statement);
    },
  };
  await read({ viewer: { tenantId: 'acme' }, config: server.config, db } as unknown as TenantContext);
  expect(sent.length).toBeGreaterThan(0);
  return sent;
}

/** The first statement `read` sends, explained (text, VERBOSE: with each node's output expressions). */
async function planOfRepositoryRead(read: (context: TenantContext) => Promise<unknown>): Promise<string> {
  const [statement] = await repositoryReads(read);
  return plan(statement!, true);
}

/**
 * The statements `read` sends through `db.queryRows` (the repositories' hand-written reads), each with its parameters,
 * explained as EXPLAIN (FORMAT JSON): the indexes its plan scans.
 */
async function indexesOfRepositoryReads(read: (context: TenantContext) => Promise<unknown>): Promise<string[][]> {
  const sent = await repositoryReads(read);
  const indexes: string[][] = [];
  for (const statement of sent) {
    const [row] = await server.db.prisma.$queryRaw<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(
      Prisma.sql`EXPLAIN (FORMAT JSON) ${statement}`,
    );
    const names: string[] = [];
    const walk = (node: PlanNode) => {
      if (node['Index Name']) names.push(node['Index Name']);
      node.Plans?.forEach(walk);
    };
    walk(row!['QUERY PLAN'][0].Plan);
    indexes.push(names);
  }
  return indexes;
}

const firstPage = { limit: 50, backward: false, seek: null };

describe("the repositories' statements (page and total in one), explained", () => {
  it.each<[string, SessionFilter, string]>([
    ['metadata', { metadata: { plan: 'p7' } }, 'sessions_metadata_idx'],
    ['text', { text: 'needle' }, 'session_search_documents_document_idx'],
    ['text and metadata', { text: 'needle', metadata: { tier: 1 } }, 'session_search_documents_document_idx'],
  ])('the sessions page filtered by %s scans %s', async (_name, filter, index) => {
    const [page] = await indexesOfRepositoryReads((context) =>
      listSessionPage(context, filter, { field: SessionOrderField.STARTED_AT, direction: OrderDirection.DESC }, firstPage, {
        metadata: true,
        messageCounts: true,
        total: true,
      }),
    );
    expect(page).toContain(index);
  });

  it('a sessions page filtered by a common word walks the sessions newest first and tests their session documents', async () => {
    const text = await planOfRepositoryRead((context) =>
      listSessionPage(context, { text: 'hay' }, { field: SessionOrderField.STARTED_AT, direction: OrderDirection.DESC }, firstPage, {
        metadata: true,
        messageCounts: true,
        total: false,
      }),
    );
    expect(text).toMatch(/Index (Only )?Scan Backward using sessions_tenant_id_started_at_id_idx/);
    expect(text).toMatch(/d\.document @@/);
    expect(text).not.toMatch(/to_tsvector/);
  });

  it('a deep sessions page filtered by a common word seeks its position in the order index, whole', async () => {
    // 90 % down the tenant's sessions: the seek must be the index condition, not a range read and sorted.
    const [deep] = await server.db.queryRows<{ started_at: Date; id: string }>(
      Prisma.sql`SELECT started_at, id FROM sessions WHERE tenant_id = 'acme' ORDER BY started_at DESC, id DESC OFFSET 7200 LIMIT 1`,
    );
    const seek = { value: deep!.started_at.toISOString(), id: deep!.id };
    const text = await planOfRepositoryRead((context) =>
      listSessionPage(
        context,
        { text: 'hay' },
        { field: SessionOrderField.STARTED_AT, direction: OrderDirection.DESC },
        { limit: 50, backward: false, seek },
        { metadata: true, messageCounts: true, total: false },
      ),
    );
    expect(text).toMatch(
      /Index (Only )?Scan Backward using sessions_tenant_id_started_at_id_idx[^\n]*\n(\s+Output:[^\n]*\n)?\s+Index Cond: \(\(s\.tenant_id = [^)]+\) AND \(ROW\(s\.started_at, s\.id\) </,
    );
    expect(text).not.toMatch(/Sort Key: s\.started_at/);
  });

  it.each([MessageSearchOrder.NEWEST, MessageSearchOrder.RELEVANCE])('a %s searchMessages page scans the content index', async (order) => {
    const [page] = await indexesOfRepositoryReads((context) => searchMessagePage(context, 'needle', null, order, firstPage, true));
    expect(page).toContain('messages_content_tsv_idx');
  });

  it("a NEWEST searchMessages page of a common word walks the tenant's messages newest first and tests stored documents", async () => {
    const text = await planOfRepositoryRead((context) =>
      searchMessagePage(context, 'hay', null, MessageSearchOrder.NEWEST, firstPage, false),
    );
    expect(text).toMatch(/Index Scan Backward using messages_tenant_id_created_at_idx/);
    expect(text).toMatch(/Filter: \(m\.content_tsv @@/);
    expect(text).not.toMatch(/to_tsvector/);
  });

  it('a RELEVANCE searchMessages page with its total reads the matches once and ranks the stored documents', async () => {
    const text = await planOfRepositoryRead((context) =>
      searchMessagePage(context, 'hay', null, MessageSearchOrder.RELEVANCE, firstPage, true),
    );
    // The matches are read by one scan (the page then fetches its 51 rows by primary key).
    const matchScans = /Seq Scan on public\.messages|Bitmap Heap Scan on public\.messages|using messages_tenant_id_created_at_idx/g;
    expect(text.match(matchScans)).toHaveLength(1);
    expect(text).toMatch(/ts_rank\(m(_\d+)?\.content_tsv/);
    expect(text).not.toMatch(/to_tsvector/);
  });

  it('a searchMessages page filtered by session metadata scans the content or the metadata index, whichever selects less', async () => {
    const [page] = await indexesOfRepositoryReads((context) =>
      searchMessagePage(context, 'needle', { sessionMetadata: { plan: 'p7' } }, MessageSearchOrder.NEWEST, firstPage, true),
    );
    expect(page.filter((index) => ['messages_content_tsv_idx', 'sessions_metadata_idx'].includes(index))).not.toEqual([]);
  });

  it.each<[string, ConversationFilter, string]>([
    ['metadata', { metadata: { plan: 'p7' } }, 'conversations_metadata_idx'],
    ['text', { text: 'needle' }, 'conversation_search_steps_tsv_idx'],
  ])('the conversations page filtered by %s scans %s', async (_name, filter, index) => {
    const [page] = await indexesOfRepositoryReads((context) =>
      listConversationPage(context, filter, { field: ConversationOrderField.LAST_ACTIVITY_AT, direction: OrderDirection.DESC }, firstPage, {
        total: true,
        metadata: true,
      }),
    );
    expect(page).toContain(index);
  });
});

const onPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;

onPostgres("the server's connections do not JIT-compile: the text filter's plan is priced for an arm it rarely runs", async () => {
  const [setting] = await server.db.queryRows<{ jit: string }>(Prisma.sql`SHOW jit`);
  expect(setting).toEqual({ jit: 'off' });
});
