import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import { asTenantContext, type RequestScope } from '../core/context';
import { byKey, createLoader } from '../core/loader-utils';
import {
  countMessagesBySession,
  findLastMessages,
  findMessagesByKeys,
  findMessagesOfSessions,
  findSessionsByKeys,
} from './session.repository';

/** The per-request DataLoaders of the sessions feature; each batch is one SQL statement. */
export function createSessionLoaders(context: RequestScope) {
  return {
    sessionByKey: createLoader<string, SessionRow | null>(context, 'sessionByKey', async (keys) =>
      byKey(keys, await findSessionsByKeys(asTenantContext(context), keys), (row) => row.id),
    ),
    messageByKey: createLoader<string, MessageRow | null>(context, 'messageByKey', async (keys) =>
      byKey(keys, await findMessagesByKeys(asTenantContext(context), keys), (row) => row.id),
    ),
    messageCountBySession: createLoader<string, number>(context, 'messageCountBySession', async (keys) => {
      const counts = await countMessagesBySession(asTenantContext(context), keys);
      return keys.map((key) => counts.get(key) ?? 0);
    }),
    /** All messages of a session, oldest first: what its trace is built from. */
    messagesOfSession: createLoader<string, MessageRow[]>(context, 'messagesOfSession', async (keys) => {
      const messages = await findMessagesOfSessions(asTenantContext(context), keys);
      return keys.map((key) => messages.get(key) ?? []);
    }),
    lastMessageBySession: createLoader<string, MessageRow | null>(context, 'lastMessageBySession', async (keys) => {
      const messages = await findLastMessages(asTenantContext(context), keys);
      return keys.map((key) => messages.get(key) ?? null);
    }),
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createSessionLoaders> {}
}
