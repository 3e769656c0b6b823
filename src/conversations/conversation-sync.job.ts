import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Job } from '../core/jobs';
import { conversationSyncConfigOf, syncConversations } from './conversation.sync';

/**
 * Discovers LangGraph threads and refreshes the rollups, status and step index of those that changed, every
 * CONVERSATION_SYNC_INTERVAL_SECONDS and at start; replicas running it at once split the threads (one advisory lock per thread).
 */
export function conversationSyncJob(db: Database, config: Config): Job {
  return {
    name: 'conversation-sync',
    intervalMs: config.jobs.conversationSyncIntervalSeconds * 1000,
    // Threads written while the server was down are synced at once, not one interval later.
    runAtStart: true,
    async run() {
      return { ...(await syncConversations(db, conversationSyncConfigOf(config))) };
    },
  };
}
