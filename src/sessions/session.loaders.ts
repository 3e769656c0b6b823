import DataLoader from 'dataloader';
import type { Message as MessageRow, Session as SessionRow } from '../generated/prisma/client';
import { asTenantContext, type RequestContext } from '../server/context';
import { byKey, loaderOptions } from '../server/loader-utils';
import { countMessagesBySession, findLastMessages, findMessagesByKeys, findSessionsByKeys } from './session.repository';

/** The per-request DataLoaders of the sessions feature; each batch is one SQL statement. */
export function createSessionLoaders(context: RequestContext) {
  const options = loaderOptions(context);
  return {
    sessionByKey: new DataLoader<string, SessionRow | null>(
      async (keys) => byKey(keys, await findSessionsByKeys(asTenantContext(context), keys), (row) => row.id),
      options,
    ),
    messageByKey: new DataLoader<string, MessageRow | null>(
      async (keys) => byKey(keys, await findMessagesByKeys(asTenantContext(context), keys), (row) => row.id),
      options,
    ),
    messageCountBySession: new DataLoader<string, number>(async (keys) => {
      const counts = await countMessagesBySession(asTenantContext(context), keys);
      return keys.map((key) => counts.get(key) ?? 0);
    }, options),
    lastMessageBySession: new DataLoader<string, MessageRow | null>(async (keys) => {
      const messages = await findLastMessages(asTenantContext(context), keys);
      return keys.map((key) => messages.get(key) ?? null);
    }, options),
  };
}
