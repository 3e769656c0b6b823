import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { seedDatabase } from '../../prisma/seed';
import { createApiKey } from '../api-keys/api-key.repository';
import { hashApiKey } from '../api-keys/api-key.secret';
import type { Logger } from '../logger';
import { syncConversations, type ConversationSyncConfig, type ConversationSyncSummary } from '../conversations/conversation.sync';
import { createDatabase, type Database } from '../db/client';

/** The tenant the demo API key acts for. */
export const DEMO_TENANT = 'acme';
const DEMO_KEY_FILE = 'demo-api-key';

/**
 * Syncs freshly seeded LangGraph threads into conversations (rollups and replay step index), as the
 * server's job would, so data seeded by the CLI is complete at once.
 */
export async function syncSeededConversations(connectionString: string, config: ConversationSyncConfig): Promise<ConversationSyncSummary> {
  const db = createDatabase(connectionString, { poolMax: 1 });
  try {
    return await syncConversations(db, config);
  } finally {
    await db.close();
  }
}

/**
 * Fills an empty database with demo data (tenants, sessions, messages, agent threads). The server's
 * conversation sync, which runs at start, then builds their replay index.
 */
export async function seedDemoDataIfEmpty(connectionString: string, logger: Logger): Promise<void> {
  const client = new Client({ connectionString });
  await client.connect();
  let empty: boolean;
  try {
    empty = (await client.query('SELECT 1 FROM tenants LIMIT 1')).rowCount === 0;
  } finally {
    await client.end();
  }
  if (!empty) return;
  const started = Date.now();
  const summary = await seedDatabase(connectionString, { now: new Date() }, (line) => logger.debug(line));
  logger.info({ ...summary, ms: Date.now() - started }, 'seeded demo data');
}

/**
 * Returns the demo tenant's API key, kept in the data directory so it stays the same across starts;
 * creates it (read and write scopes) when missing or no longer in the database.
 */
export async function ensureDemoApiKey(db: Database, dataDir: string): Promise<string> {
  const file = path.join(dataDir, DEMO_KEY_FILE);
  const saved = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (saved) {
    const stored = await db.prisma.apiKey.findUnique({ where: { keyHash: hashApiKey(saved) }, select: { revokedAt: true } });
    if (stored && !stored.revokedAt) return saved;
  }
  const { key } = await createApiKey(db, { tenantId: DEMO_TENANT, name: 'embedded demo', scopes: ['read', 'write'] });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
