import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/db/client';
import type { Conversation, Message, Prisma, Session } from '../../src/generated/prisma/client';
import { toGlobalId } from '../../src/graphql/global-id';

/** A fixed instant test data is anchored to. */
export const T0 = new Date('2026-11-01T12:00:00.000Z');

/** `minutes` after T0. */
export function at(minutes: number): Date {
  return new Date(T0.getTime() + minutes * 60_000);
}

/** Inserts one session; every field can be overridden. */
export async function createSession(
  db: Database,
  overrides: Partial<Prisma.SessionUncheckedCreateInput> & { tenantId?: string } = {},
): Promise<Session> {
  const id = overrides.id ?? randomUUID();
  return db.prisma.session.create({
    data: {
      id,
      tenantId: 'acme',
      externalId: `sess_${id.slice(0, 8)}`,
      channel: 'web',
      status: 'ACTIVE',
      startedAt: T0,
      lastActivityAt: T0,
      ...overrides,
    },
  });
}

/** Inserts `count` sessions of a tenant, `build(i)` giving each one's overrides. */
export async function createSessions(
  db: Database,
  count: number,
  build: (index: number) => Partial<Prisma.SessionUncheckedCreateInput> = () => ({}),
): Promise<Session[]> {
  const rows = Array.from({ length: count }, (_, index) => {
    const id = randomUUID();
    return {
      id,
      tenantId: 'acme',
      externalId: `sess_${String(index).padStart(5, '0')}_${id.slice(0, 4)}`,
      channel: 'web',
      status: 'ACTIVE' as const,
      startedAt: at(index),
      lastActivityAt: at(index),
      ...build(index),
    };
  });
  return db.prisma.session.createManyAndReturn({ data: rows });
}

/** Inserts messages into a session, one minute apart from its start unless given. */
export async function createMessages(
  db: Database,
  session: Session,
  messages: Partial<Omit<Prisma.MessageUncheckedCreateInput, 'sessionId' | 'tenantId'>>[],
): Promise<Message[]> {
  return db.prisma.message.createManyAndReturn({
    data: messages.map((message, index) => ({
      role: 'USER' as const,
      content: `message ${index}`,
      createdAt: new Date(session.startedAt.getTime() + (index + 1) * 60_000),
      ...message,
      tenantId: session.tenantId,
      sessionId: session.id,
    })),
  });
}

/** The global ID of a session row. */
export function sessionGid(session: Pick<Session, 'id'>): string {
  return toGlobalId('Session', session.id);
}

/** Inserts `count` conversations, `build(i)` giving each one's overrides. */
export async function createConversations(
  db: Database,
  count: number,
  build: (index: number) => Partial<Prisma.ConversationUncheckedCreateInput> = () => ({}),
): Promise<Conversation[]> {
  return db.prisma.conversation.createManyAndReturn({
    data: Array.from({ length: count }, (_, index) => ({
      tenantId: 'acme',
      threadId: `thread-${index}-${randomUUID().slice(0, 8)}`,
      createdAt: at(index),
      lastActivityAt: at(index),
      ...build(index),
    })),
  });
}
