import { conversationSyncConfigOf, syncConversations, type ConversationSyncSummary } from '../conversations/conversation.sync';
import { assertTenantExists, cliConfig, withDatabase } from './cli-support';

/**
 * `convoql conversations sync`: one sync pass, printing what it did; exits 1 when a thread failed. A
 * CONVERSATION_DEFAULT_TENANT naming no tenant is refused before anything is synced.
 */
export async function conversationsSync(options: { json?: boolean }): Promise<void> {
  const config = cliConfig();
  await withDatabase(config, async ({ db }) => {
    if (config.conversations.defaultTenant !== undefined) {
      await assertTenantExists(db, config.conversations.defaultTenant, 'CONVERSATION_DEFAULT_TENANT');
    }
    const started = performance.now();
    const summary = await syncConversations(db, conversationSyncConfigOf(config));
    const durationMs = Math.round(performance.now() - started);
    console.log(
      options.json ? JSON.stringify({ ...summary, durationMs }) : describeSync(summary, durationMs, config.conversations.tenantMetadataKey),
    );
    if (summary.failed > 0) process.exitCode = 1;
  });
}

/** The summary of a pass in words; its counts add up to the threads found. */
export function describeSync(summary: ConversationSyncSummary, durationMs: number, tenantMetadataKey: string): string {
  const skipped = summary.skippedNoTenant + summary.skippedUnknownTenant;
  const lines = [
    `Synced ${summary.threads} thread${summary.threads === 1 ? '' : 's'} in ${durationMs} ms: ${summary.created} created, ` +
      `${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.busy} busy elsewhere, ${skipped} skipped, ` +
      `${summary.failed} failed; ${summary.checkpointsIndexed} checkpoints indexed.`,
  ];
  if (summary.skippedNoTenant > 0) {
    lines.push(
      `Skipped ${summary.skippedNoTenant} without a tenant: their checkpoint metadata has no "${tenantMetadataKey}" key and ` +
        'CONVERSATION_DEFAULT_TENANT is not set.',
    );
  }
  if (summary.skippedUnknownTenant > 0) {
    lines.push(
      `Skipped ${summary.skippedUnknownTenant} naming tenants that do not exist: ${summary.unknownTenants.join(', ')}` +
        `${summary.unknownTenants.length < summary.skippedUnknownTenant ? ', …' : ''} (create them with \`npx convoql tenant create <id>\`).`,
    );
  }
  if (summary.unpricedModels.length > 0) lines.push(`No price configured for: ${summary.unpricedModels.join(', ')} (cost counted as 0).`);
  for (const failure of summary.failures) lines.push(`Failed ${failure.threadId}: ${failure.message}`);
  if (summary.failed > summary.failures.length) lines.push(`… and ${summary.failed - summary.failures.length} more failures.`);
  return lines.join('\n');
}
