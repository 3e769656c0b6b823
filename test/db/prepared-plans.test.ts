// A named prepared statement saves PostgreSQL its parse on every request, and its planning only once the server
// settles on a generic plan: after five executions it keeps planning anew each time (a "custom plan") whenever the
// generic plan looks costlier, as it does for `id = ANY($2::uuid[])` with one key (the planner assumes an array of
// ten). These hot reads must settle on a generic plan, which pg_prepared_statements tells on the connection that
// prepared them. Prepared statements are a PostgreSQL server's (the embedded PGlite runs without them).
import { createDatabase, type Database } from '../../src/db/client';
import type { TenantContext } from '../../src/core/context';
import { DEFAULT_PAGE_SIZE, type KeysetPage } from '../../src/graphql/connection';
import { MessageSearchOrder } from '../../src/sessions/message-search.inputs';
import { searchMessagePage } from '../../src/sessions/message-search.repository';
import { findSessionsByKeys, findSessionWithMessagePage, listSessionPage } from '../../src/sessions/session.repository';
import { SessionOrderField } from '../../src/sessions/session.inputs';
import { SessionStatus } from '../../src/sessions/session.type';
import { listConversationPage } from '../../src/conversations/conversation.repository';
import { ConversationOrderField } from '../../src/conversations/conversation.inputs';
import { OrderDirection } from '../../src/graphql/order';
import { createConversations, createMessages, createSession } from '../helpers/factories';
import { startTestServer, type TestServer } from '../helpers/server';

const onPostgres = process.env.TEST_DATABASE_URL ? describe : describe.skip;

onPostgres('hot reads as named prepared statements', () => {
  let server: TestServer;
  let db: Database;
  let context: TenantContext;
  let sessionKey: string;

  beforeAll(async () => {
    server = await startTestServer();
    const session = await createSession(server.db, { tenantId: 'acme' });
    await createMessages(server.db, session, [{}, {}, {}]);
    sessionKey = session.id;
    // The planner's choice depends on the table's statistics: on a handful of rows every plan costs alike.
    await server.db.prisma.$executeRawUnsafe(`
      INSERT INTO sessions (id, tenant_id, external_id, channel, status, started_at, last_activity_at)
      SELECT gen_random_uuid(), 'acme', 'bulk-' || i, 'web', 'CLOSED', now() - i * interval '1 minute', now()
      FROM generate_series(1, 5000) i`);
    await createConversations(server.db, 5000);
    await server.db.prisma.$executeRawUnsafe('ANALYZE sessions');
    await server.db.prisma.$executeRawUnsafe('ANALYZE conversations');
    // One connection, so that every execution and the look at pg_prepared_statements share its session.
    db = createDatabase(server.database.url, { poolMax: 1, preparedStatements: true });
    context = { viewer: { tenantId: 'acme' }, config: server.config, db } as unknown as TenantContext;
  });

  afterAll(async () => {
    await db?.close();
    await server?.close();
  });

  async function plansOf(fragment: string): Promise<{ generic: number; custom: number }> {
    const { rows } = await db.pool.query<{ generic_plans: string; custom_plans: string }>(
      'SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE $1',
      [`%${fragment}%`],
    );
    expect(rows).toHaveLength(1);
    return { generic: Number(rows[0]!.generic_plans), custom: Number(rows[0]!.custom_plans) };
  }

  it('looks one session up by key with a generic plan (session(id), node(id))', async () => {
    for (let run = 0; run < 8; run++) expect(await findSessionsByKeys(context, [sessionKey])).toHaveLength(1);
    expect(await plansOf('AND id = $2')).toEqual({ custom: 5, generic: 3 });
  });

  it('reads a session panel (the session and its first messages) with a generic plan', async () => {
    const page: KeysetPage = { limit: DEFAULT_PAGE_SIZE, backward: false, seek: null };
    const columns = { metadata: true, messageMetadata: false };
    for (let run = 0; run < 8; run++) {
      expect((await findSessionWithMessagePage(context, sessionKey, null, page, columns))?.messages).toHaveLength(3);
    }
    expect(await plansOf('LEFT JOIN LATERAL')).toEqual({ custom: 5, generic: 3 });
  });

  // A page's LIMIT is written into the text: with `LIMIT $n` the generic plan looked costlier than every custom plan.
  it('reads a sessions table page (filter, message counts, total) with a generic plan', async () => {
    const page: KeysetPage = { limit: DEFAULT_PAGE_SIZE, backward: false, seek: null };
    const order = { field: SessionOrderField.STARTED_AT, direction: OrderDirection.DESC };
    const extras = { metadata: false, messageCounts: true, total: true };
    for (let run = 0; run < 8; run++) {
      const { rows } = await listSessionPage(context, { status: [SessionStatus.CLOSED] }, order, page, extras);
      expect(rows).toHaveLength(DEFAULT_PAGE_SIZE + 1);
    }
    expect(await plansOf('AS n FROM sessions s')).toEqual({ custom: 5, generic: 3 });
  });

  it('reads a conversations table page (with its total) with a generic plan', async () => {
    const page: KeysetPage = { limit: DEFAULT_PAGE_SIZE, backward: false, seek: null };
    const order = { field: ConversationOrderField.LAST_ACTIVITY_AT, direction: OrderDirection.DESC };
    for (let run = 0; run < 8; run++) {
      const { rows, total } = await listConversationPage(context, null, order, page, { total: true, metadata: false });
      expect([rows.length, total]).toEqual([DEFAULT_PAGE_SIZE + 1, 5000]);
    }
    expect(await plansOf('FROM conversations c')).toEqual({ custom: 5, generic: 3 });
  });

  it('plans a search for its words on every execution: never a named statement', async () => {
    const page: KeysetPage = { limit: DEFAULT_PAGE_SIZE, backward: false, seek: null };
    for (let run = 0; run < 8; run++) {
      await searchMessagePage(context, run % 2 ? 'rare' : 'common', null, MessageSearchOrder.RELEVANCE, page, true);
      await searchMessagePage(context, 'common', null, MessageSearchOrder.NEWEST, page, true);
    }
    const { rows } = await db.pool.query<{ statement: string }>(
      `SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%websearch_to_tsquery%'`,
    );
    expect(rows).toEqual([]);
    // And the hot reads still are.
    expect(await findSessionsByKeys(context, [sessionKey])).toHaveLength(1);
    expect((await db.pool.query('SELECT 1 FROM pg_prepared_statements')).rowCount).toBeGreaterThan(0);
  });
});
