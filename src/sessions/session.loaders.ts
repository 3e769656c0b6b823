import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import { asTenantContext, type RequestContext, type RequestScope } from '../core/context';
import { keysetPageInMemory, type KeysetPage } from '../graphql/connection';
import { byKey, createLoader } from '../core/loader-utils';
import {
  countMessagesBySession,
  countSessionsByThread,
  findLastMessages,
  findMessagesByKeys,
  findMessagesOfSessions,
  findSessionMetadata,
  findSessionsByKeys,
  listMessagePages,
  listSessionPagesByThread,
} from './session.repository';
import { messageKeysetValue } from './message.list';
import type { MessageRole } from './message.type';
import type { SessionPrefetch } from './session.type';

/** The per-request DataLoaders of the sessions feature; each batch is one SQL statement. */
export function createSessionLoaders(context: RequestScope) {
  return {
    /** Sessions by key without their metadata (null in the row), which the `metadata` field loads when selected. */
    sessionByKey: createLoader<string, SessionRow | null>(context, 'sessionByKey', async (keys) =>
      byKey(keys, await findSessionsByKeys(asTenantContext(context), keys, { metadata: false }), (row) => row.id),
    ),
    sessionMetadataByKey: createLoader<string, unknown>(context, 'sessionMetadataByKey', async (keys) => {
      const metadata = await findSessionMetadata(asTenantContext(context), keys);
      return keys.map((key) => metadata.get(key) ?? null);
    }),
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
    /**
     * A page of messages per session, one loader per role and page (the arguments of a `messages` field, alike for
     * every session of the list it sits under): one statement per batch of sessions.
     */
    messagePageBySession: perArguments((role: MessageRole | null, page: KeysetPage) =>
      createLoader<string, MessageRow[]>(context, 'messagePageBySession', async (keys) => {
        const pages = await listMessagePages(asTenantContext(context), keys, role, page);
        return keys.map((key) => pages.get(key) ?? []);
      }),
    ),
    /** A page of the sessions linked to a LangGraph thread, one loader per page: one statement per batch of threads. */
    sessionPageByThread: perArguments((page: KeysetPage) =>
      createLoader<string, SessionRow[]>(context, 'sessionPageByThread', async (threadIds) => {
        const pages = await listSessionPagesByThread(asTenantContext(context), threadIds, page);
        return threadIds.map((threadId) => pages.get(threadId) ?? []);
      }),
    ),
    sessionCountByThread: createLoader<string, number>(context, 'sessionCountByThread', async (threadIds) => {
      const counts = await countSessionsByThread(asTenantContext(context), threadIds);
      return threadIds.map((threadId) => counts.get(threadId) ?? 0);
    }),
  };
}

/**
 * One page of a session's messages of `role` (any when null), oldest first (`page.limit + 1` rows), and their number
 * when it is known without a statement: the page read with the session when it answers these arguments, else from
 * all the session's messages when they were read with it, else through the batched page loader. All read the
 * messages list's keyset (message.list.ts).
 */
export async function loadMessagePage(
  context: RequestContext,
  sessionKey: string,
  prefetched: SessionPrefetch,
  role: MessageRole | null | undefined,
  page: KeysetPage,
): Promise<{ rows: readonly MessageRow[]; total: number | null }> {
  const { messagePage, messages } = prefetched;
  if (messagePage && messagePage.role === (role ?? null) && samePage(messagePage.page, page))
    return { rows: messagePage.rows, total: null };
  if (!messages) return { rows: await context.loaders.messagePageBySession(role ?? null, page).load(sessionKey), total: null };
  const matching = role ? messages.filter((row) => row.role === role) : messages;
  return { rows: keysetPageInMemory(matching, page, messageKeysetValue, (row) => row.id), total: matching.length };
}

function samePage(a: KeysetPage, b: KeysetPage): boolean {
  return a.limit === b.limit && a.backward === b.backward && a.seek?.id === b.seek?.id && a.seek?.value === b.seek?.value;
}

/** A loader per distinct arguments, made on first use within the request. */
function perArguments<A extends unknown[], L>(create: (...args: A) => L): (...args: A) => L {
  const loaders = new Map<string, L>();
  return (...args) => {
    const key = JSON.stringify(args);
    let loader = loaders.get(key);
    if (!loader) loaders.set(key, (loader = create(...args)));
    return loader;
  };
}

declare module '../core/context' {
  interface Loaders extends ReturnType<typeof createSessionLoaders> {}
}
