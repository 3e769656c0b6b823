// The text and metadata filters' plans use their GIN indexes. On a few rows the planner rightly prefers scanning, so
// this file builds a dataset large enough (8,000 sessions, 32,000 messages of one tenant, analyzed) for it to prefer
// the indexes by itself: a condition on an expression the index does not hold (another text search configuration
// literal, a cast) shows here as a sequential scan. Built by SQL in a second or two, even on PGlite.
import { Prisma } from '../../src/db/client';
import type { TenantContext } from '../../src/core/context';
import { sessionListWhere } from '../../src/sessions/session.list';
import { MESSAGE_SEARCH_FROM, messageSearchWhere } from '../../src/sessions/message-search.list';
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
  await server.db.prisma.$executeRawUnsafe('ANALYZE sessions');
  await server.db.prisma.$executeRawUnsafe('ANALYZE messages');
}, 120_000);

afterAll(() => server?.close());

async function plan(statement: Prisma.Sql): Promise<string> {
  const rows = await server.db.prisma.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${statement}`);
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

const acme = () => ({ viewer: { tenantId: 'acme' }, config: server.config, db: server.db }) as unknown as TenantContext;

it('the metadata filter uses the GIN index on sessions.metadata', async () => {
  const where = sessionListWhere(acme(), { metadata: { plan: 'p7' } });
  expect(await plan(Prisma.sql`SELECT count(*) FROM sessions s WHERE ${where}`)).toMatch(/Bitmap Index Scan on sessions_metadata_idx/);
});

it('the sessions text filter uses the GIN index on message content', async () => {
  const where = sessionListWhere(acme(), { text: 'needle' });
  expect(await plan(Prisma.sql`SELECT count(*) FROM sessions s WHERE ${where}`)).toMatch(
    /Bitmap Index Scan on messages_content_search_idx/,
  );
});

it('searchMessages uses the GIN index on message content', async () => {
  const where = messageSearchWhere(acme(), 'needle', null);
  expect(await plan(Prisma.sql`SELECT count(*) FROM ${MESSAGE_SEARCH_FROM} WHERE ${where}`)).toMatch(
    /Bitmap Index Scan on messages_content_search_idx/,
  );
});
