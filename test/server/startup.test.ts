import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describeStartupError, start } from '../../src/main';
import { createTestDatabase } from '../helpers/database';

async function startupError(environment: Record<string, string>): Promise<string> {
  try {
    const app = await start({ LOG_LEVEL: 'silent', ...environment });
    await app.stop();
  } catch (error) {
    return describeStartupError(error);
  }
  throw new Error('expected start-up to fail');
}

describe('start-up', () => {
  it('stops with one clear line for a malformed DATABASE_URL', async () => {
    expect(await startupError({ DATABASE_URL: 'postgres//nope' })).toBe(
      'convoql: Invalid configuration: DATABASE_URL expected a URL like postgres://user:password@host:5432/database',
    );
  });

  it('stops with one clear line for an unreachable server', async () => {
    const line = await startupError({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    expect(line).toMatch(/^convoql: Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/nothing: .*ECONNREFUSED/);
    expect(line).not.toContain('\n');
  });

  it('refuses a database that was never migrated, naming the command that migrates it, and migrates it with --migrate', async () => {
    const database = await createTestDatabase({ migrated: false });
    try {
      const where = new URL(database.url);
      expect(await startupError({ DATABASE_URL: database.url, PORT: '0' })).toBe(
        `convoql: The database ${where.hostname}:${where.port}${where.pathname} has no convoql tables (it was never migrated): ` +
          'run `npx convoql migrate` with the same DATABASE_URL, or start the server with --migrate.',
      );
      const app = await start({ LOG_LEVEL: 'silent', DATABASE_URL: database.url, PORT: '0' }, ['--migrate']);
      await app.stop();
    } finally {
      await database.drop();
    }
  });

  it('stops with one clear line for a bad or busy port', async () => {
    expect(await startupError({ PORT: '-1' })).toMatch(/^convoql: Invalid configuration: PORT expected an integer >= 0/);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const database = await createTestDatabase();
    try {
      expect(await startupError({ DATABASE_URL: database.url, PORT: String(port) })).toBe(
        `convoql: Port ${port} on 127.0.0.1 is already in use; set PORT to a free port.`,
      );
    } finally {
      blocker.close();
      await database.drop();
    }
  });

  it('serves /healthz and GraphQL on a real database, and stops cleanly', async () => {
    const database = await createTestDatabase();
    try {
      const app = await start({ LOG_LEVEL: 'silent', DATABASE_URL: database.url, PORT: '0' });
      const base = app.url.replace(/\/graphql$/, '');
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      const response = await fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query":"{ sessions { totalCount } }"}',
      });
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
        'UNAUTHENTICATED',
      );
      await app.stop();
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    } finally {
      await database.drop();
    }
  });
});
