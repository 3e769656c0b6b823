import { createConfig } from '../../src/config';
import { createDatabase, type Database } from '../../src/db/client';
import { JobScheduler } from '../../src/core/jobs';
import { createLogger } from '../../src/logger';
import { sessionExpiryJob } from '../../src/sessions/session-expiry.job';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { at, createSessions } from '../helpers/factories';

let database: TestDatabase;
let db: Database;
const config = createConfig({ SESSION_IDLE_TIMEOUT_MINUTES: '30' });

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDatabase(database.url, { poolMax: database.external ? 4 : 1 });
  await db.prisma.tenant.createMany({
    data: [
      { id: 'acme', name: 'Acme' },
      { id: 'globex', name: 'Globex' },
    ],
  });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

it('expires idle ACTIVE sessions of every tenant, ending them when they became idle too long, and leaves the rest', async () => {
  // Sessions idle for 0..59 minutes at T0 + 60 min; those idle longer than 30 minutes expire.
  const sessions = await createSessions(db, 60, (index) => ({
    tenantId: index % 2 ? 'acme' : 'globex',
    status: index % 10 === 0 ? 'CLOSED' : 'ACTIVE',
    startedAt: at(index - 10),
    lastActivityAt: at(index),
  }));
  const job = sessionExpiryJob(db, config, () => at(60));
  expect(await job.run()).toEqual({ expired: 27, idleMinutes: 30 });
  const rows = await db.prisma.session.findMany({ where: { id: { in: sessions.map((session) => session.id) } } });
  for (const row of rows) {
    const index = sessions.findIndex((session) => session.id === row.id);
    if (index % 10 === 0) expect(row.status).toBe('CLOSED');
    else if (index < 30) {
      expect(row.status).toBe('EXPIRED');
      expect(row.endedAt).toEqual(at(index + 30));
    } else expect(row).toMatchObject({ status: 'ACTIVE', endedAt: null });
  }
  expect(await job.run()).toEqual({ expired: 0, idleMinutes: 30 });
});

it('splits the work between two runners at once without expiring a session twice', async () => {
  await db.prisma.session.deleteMany();
  await createSessions(db, 2500, (index) => ({
    tenantId: 'acme',
    externalId: `bulk-${index}`,
    startedAt: at(-100),
    lastActivityAt: at(-50),
  }));
  const scheduler = new JobScheduler([], createLogger(config));
  const [first, second] = await Promise.all([
    scheduler.runOnce(sessionExpiryJob(db, config, () => at(0))),
    scheduler.runOnce(sessionExpiryJob(db, config, () => at(0))),
  ]);
  expect(Number(first!.expired) + Number(second!.expired)).toBe(2500);
  expect(await db.prisma.session.count({ where: { status: 'EXPIRED' } })).toBe(2500);
});
