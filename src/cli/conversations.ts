import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { conversationSyncConfigOf, syncConversations, type ConversationSyncSummary } from '../conversations/conversation.sync';
import { openDatabase, StartupError } from '../db/open';
import { createLogger } from '../logger';

const USAGE = `usage:
  npm run conversations -- sync [--json]

sync   discovers LangGraph threads in the checkpoint tables (DATABASE_URL, or the embedded database in DATA_DIR),
       attaches them to tenants (CONVERSATION_TENANT_METADATA_KEY, CONVERSATION_DEFAULT_TENANT) and refreshes the
       rollups, status and replay index of the threads that changed; safe while servers run the same sync.
--json prints the summary as JSON.`;

class UsageError extends Error {}

/** Runs one conversation sync pass and prints what it did. */
async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' } } });
  const [command, ...rest] = positionals;
  if (command !== 'sync' || rest.length > 0) throw new UsageError(USAGE);
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const database = await openDatabase(config, createLogger(config));
  try {
    const started = performance.now();
    const summary = await syncConversations(database.db, conversationSyncConfigOf(config));
    const durationMs = Math.round(performance.now() - started);
    console.log(values.json ? JSON.stringify({ ...summary, durationMs }) : describe(summary, durationMs));
    if (summary.failed > 0) process.exitCode = 1;
  } finally {
    await database.close();
  }
}

function describe(summary: ConversationSyncSummary, durationMs: number): string {
  const lines = [
    `Synced ${summary.threads} thread${summary.threads === 1 ? '' : 's'} in ${durationMs} ms: ${summary.changed} changed, ` +
      `${summary.created} created, ${summary.updated} updated, ${summary.unchanged} already synced, ${summary.busy} busy elsewhere; ` +
      `${summary.checkpointsIndexed} checkpoints indexed.`,
  ];
  if (summary.skippedNoTenant + summary.skippedUnknownTenant > 0) {
    lines.push(
      `Skipped ${summary.skippedNoTenant} without a tenant (no metadata key and no CONVERSATION_DEFAULT_TENANT) and ` +
        `${summary.skippedUnknownTenant} naming an unknown tenant.`,
    );
  }
  if (summary.unpricedModels.length > 0) lines.push(`No price configured for: ${summary.unpricedModels.join(', ')} (cost counted as 0).`);
  for (const failure of summary.failures) lines.push(`Failed ${failure.threadId}: ${failure.message}`);
  if (summary.failed > summary.failures.length) lines.push(`… and ${summary.failed - summary.failures.length} more failures.`);
  return lines.join('\n');
}

main().catch((error: unknown) => {
  const known = error instanceof UsageError || error instanceof ConfigError || error instanceof StartupError;
  console.error(known ? (error as Error).message : `conversations: ${oneLine(error)}`);
  process.exit(1);
});

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}
