import type { NotificationSource } from '../db/notifications';
import { asTenantContext, type RequestContext } from '../core/context';
import type { Logger } from '../logger';
import { Message } from '../sessions/message.type';
import type { SessionFilter } from '../sessions/session.inputs';
import { Session } from '../sessions/session.type';
import { findSessionsWithMessages, type SessionsWithMessages } from '../sessions/session.repository';
import { Conversation } from '../conversations/conversation.type';
import type { ConversationFilter } from '../conversations/conversation.inputs';
import { parseLiveEvent, type ConversationEvent, type LiveEvent, type LiveEventKind, type ThreadEvent } from './live.events';
import { matchConversationFilters, matchSessionFilters } from './live.repository';
import type { LiveConnection, LiveDelivery, LiveSink } from './live.stream';
import { ConversationChange, ConversationChangedEvent, SessionChange, SessionChangedEvent } from './live.type';

type MessageRow = Parameters<typeof Message.fromRow>[0];

/** True for a null filter, or one whose only condition (if any) is `field`. */
function isNullFilterBut<T extends object>(filter: T | null, field: keyof T): boolean {
  return filter === null || Object.entries(filter).every(([name, value]) => name === field || value == null);
}

/** What the bus reports; the server's metrics satisfy it. */
export interface LiveBusMetrics {
  /** Events handed to subscriptions, by subscription field. */
  delivered(field: string, count: number): void;
  /** Notifications that could not be delivered (the database failed while reading their rows). */
  failed(count: number): void;
}

/** The sessionChanged subscriptions of a tenant with one filter: the filter is decided once per batch for all of them. */
interface SessionWatchGroup {
  readonly filter: SessionFilter | null;
  readonly sinks: Set<LiveSink<SessionChangedEvent>>;
}

/**
 * A tenant's sessionChanged subscriptions, grouped by filter and indexed by how a group's filter is decided: a batch
 * costs the events it holds and the subscribers it reaches, not the number of subscriptions.
 */
interface SessionWatches {
  /** Every group, by the filter's JSON. */
  readonly groups: Map<string, SessionWatchGroup>;
  /** Groups with no condition: every session. */
  readonly all: Set<SessionWatchGroup>;
  /** Groups whose only condition is a session id (a dashboard's per-session watch), by that id. */
  readonly bySessionId: Map<string, Set<SessionWatchGroup>>;
  /** The others, tested by the sessions list's definition in SQL (matchSessionFilters). */
  readonly inSql: Set<SessionWatchGroup>;
}

interface ConversationWatch {
  readonly filter: ConversationFilter | null;
  readonly filterKey: string;
  readonly sink: LiveSink<ConversationChangedEvent>;
}

interface TenantWatches {
  readonly sessions: SessionWatches;
  /** messageAdded subscriptions by session key. */
  readonly messages: Map<string, Set<LiveSink<Message>>>;
  readonly conversations: Set<ConversationWatch>;
}

/**
 * Brings one thread's `conversations` row up to date with its checkpoints (the conversation sync, for one thread);
 * `busy` when another runner (a replica) held the thread's lock, so the write may not be read yet.
 */
export type AgentThreadSync = (threadId: string) => Promise<{ busy: boolean }>;

/** How long a thread sync found busy waits before it tries again (the other runner is usually done by then). */
const BUSY_RETRY_MS = 100;
/** A thread is synced once LangGraph has not written to it for this long… */
const THREAD_QUIET_MS = 50;
/** …or this long after the first write not synced yet, whichever comes first. */
const THREAD_MAX_WAIT_MS = 1_000;

const CHANGE_OF_KIND: Record<LiveEventKind, SessionChange> = {
  'session.created': SessionChange.CREATED,
  'session.status': SessionChange.STATUS_CHANGED,
  'session.updated': SessionChange.UPDATED,
  'message.added': SessionChange.MESSAGES_ADDED,
};

/**
 * The process's one fan-out of live events: notifications from the database (one listening connection per process)
 * go to the subscriptions of their tenant. Notifications arriving together are handled as one batch per tenant, in
 * arrival (commit) order, one batch after another: a batch's sessions and messages are read in one statement and
 * primed into the tenant's loaders (shared by all its subscribers of the batch), and sessionChanged filters that need
 * SQL are tested by the sessions list's own definition in one more statement (matchSessionFilters). A subscriber never
 * sees another tenant's event: it is only ever handed events of the tenant it subscribed as, with rows read as that
 * tenant.
 */
export class LiveEventBus {
  private readonly tenants = new Map<string, TenantWatches>();
  private pending: (LiveEvent | ConversationEvent)[] = [];
  private flushing: Promise<void> | undefined;
  private detach: (() => void) | undefined;
  /** Wake-ups of replayTail subscriptions, by LangGraph thread id (any tenant: a wake-up carries no data). */
  private readonly threads = new Map<string, Set<() => void>>();
  /** Threads being synced, and whether another write arrived meanwhile (one more pass then). */
  private readonly syncing = new Map<string, { again: boolean; firstAt: number; lastAt: number }>();
  private conversationWatchCount = 0;
  private readonly syncRuns = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly source: NotificationSource,
    /** The context a batch of one tenant's events is read in: the composition root's context builder, fresh loaders. */
    private readonly createContext: (tenantId: string) => RequestContext,
    private readonly logger: Logger,
    private readonly metrics?: LiveBusMetrics,
    /** Run for each LangGraph write while this process has conversationChanged subscribers; absent, only the sync job's passes are announced. */
    private readonly syncThread?: AgentThreadSync,
  ) {}

  /** Starts listening; resolves when changes committed from now on will be delivered. */
  async start(): Promise<void> {
    if (!this.detach) {
      const stopReceiving = this.source.onNotification((payload) => this.receive(payload));
      // replayTail readers catch up from the database after notifications may have been lost.
      const stopGaps = this.source.onGap(() => this.wakeAllThreads());
      this.detach = () => (stopReceiving(), stopGaps());
    }
    await this.source.start();
  }

  /** Stops listening and waits for the batch being delivered. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.detach?.();
    this.detach = undefined;
    await this.source.stop();
    await this.flushing;
    await Promise.all(this.syncRuns);
  }

  /** Watches the tenant's sessions that `filter` selects; returns the function that stops watching. */
  watchSessions(tenantId: string, filter: SessionFilter | null, sink: LiveSink<SessionChangedEvent>): () => void {
    const watches = this.tenant(tenantId);
    const { groups, all, bySessionId, inSql } = watches.sessions;
    const filterKey = JSON.stringify(filter ?? null);
    let group = groups.get(filterKey);
    if (!group) {
      groups.set(filterKey, (group = { filter, sinks: new Set() }));
      const sessionId = filter?.sessionId;
      if (!isNullFilterBut(filter, 'sessionId')) inSql.add(group);
      else if (sessionId == null) all.add(group);
      else {
        let named = bySessionId.get(sessionId);
        if (!named) bySessionId.set(sessionId, (named = new Set()));
        named.add(group);
      }
    }
    const watched = group;
    watched.sinks.add(sink);
    return () => {
      watched.sinks.delete(sink);
      if (watched.sinks.size === 0 && groups.get(filterKey) === watched) {
        groups.delete(filterKey);
        all.delete(watched);
        inSql.delete(watched);
        const sessionId = watched.filter?.sessionId;
        const named = sessionId == null ? undefined : bySessionId.get(sessionId);
        if (named?.delete(watched) && named.size === 0) bySessionId.delete(sessionId!);
      }
      this.forgetIfIdle(tenantId, watches);
    };
  }

  /** Watches the messages added to one of the tenant's sessions (by key); returns the function that stops watching. */
  watchMessages(tenantId: string, sessionKey: string, sink: LiveSink<Message>): () => void {
    const watches = this.tenant(tenantId);
    let sinks = watches.messages.get(sessionKey);
    if (!sinks) watches.messages.set(sessionKey, (sinks = new Set()));
    sinks.add(sink);
    return () => {
      sinks.delete(sink);
      if (sinks.size === 0) watches.messages.delete(sessionKey);
      this.forgetIfIdle(tenantId, watches);
    };
  }

  /** Watches the tenant's conversations that `filter` selects; returns the function that stops watching. */
  watchConversations(tenantId: string, filter: ConversationFilter | null, sink: LiveSink<ConversationChangedEvent>): () => void {
    const watch: ConversationWatch = { filter, filterKey: JSON.stringify(filter ?? null), sink };
    const watches = this.tenant(tenantId);
    watches.conversations.add(watch);
    this.conversationWatchCount++;
    return () => {
      if (watches.conversations.delete(watch)) this.conversationWatchCount--;
      this.forgetIfIdle(tenantId, watches);
    };
  }

  /**
   * Calls `wake` after each LangGraph write to the thread's root graph committed from now on (and once after a gap in
   * the notifications); returns the function that stops watching. Tenant-blind: the woken reader reads as its tenant.
   */
  watchThread(threadId: string, wake: () => void): () => void {
    let wakes = this.threads.get(threadId);
    if (!wakes) this.threads.set(threadId, (wakes = new Set()));
    wakes.add(wake);
    return () => {
      wakes.delete(wake);
      if (wakes.size === 0 && this.threads.get(threadId) === wakes) this.threads.delete(threadId);
    };
  }

  /** Wakes every thread watcher, after notifications may have been missed. */
  wakeAllThreads(): void {
    for (const wakes of this.threads.values()) for (const wake of wakes) wake();
  }

  private tenant(tenantId: string): TenantWatches {
    let watches = this.tenants.get(tenantId);
    if (!watches) {
      const sessions: SessionWatches = { groups: new Map(), all: new Set(), bySessionId: new Map(), inSql: new Set() };
      this.tenants.set(tenantId, (watches = { sessions, messages: new Map(), conversations: new Set() }));
    }
    return watches;
  }

  private forgetIfIdle(tenantId: string, watches: TenantWatches): void {
    if (
      watches.sessions.groups.size === 0 &&
      watches.messages.size === 0 &&
      watches.conversations.size === 0 &&
      this.tenants.get(tenantId) === watches
    )
      this.tenants.delete(tenantId);
  }

  private receive(payload: string): void {
    const event = parseLiveEvent(payload, performance.now());
    if (!event) return void this.logger.warn({ payload: payload.slice(0, 200) }, 'ignored an unknown live event');
    if (event.kind === 'thread.checkpoint') return this.receiveThread(event);
    // The sync read new checkpoints (also when the checkpoint triggers are disabled): the thread's tails read on.
    if (event.kind === 'conversation.changed') for (const wake of this.threads.get(event.threadId) ?? []) wake();
    // Events of tenants nobody watches cost nothing more.
    if (!this.tenants.has(event.tenantId)) return;
    this.pending.push(event);
    if (!this.flushing) this.flushing = this.flushLoop();
  }

  private receiveThread(event: ThreadEvent): void {
    for (const wake of this.threads.get(event.threadId) ?? []) wake();
    if (this.syncThread && this.conversationWatchCount > 0) this.scheduleSync(event.threadId);
  }

  /**
   * Syncs the thread once its writes pause (THREAD_QUIET_MS without a notification, at most THREAD_MAX_WAIT_MS after
   * the first), and once more if it is written to during the pass: a superstep's checkpoint and writes come in a burst,
   * which one pass reads. On the embedded PGlite, one session shared by every client, this also keeps the sync's
   * statements from landing between the statements of an agent's burst.
   */
  private scheduleSync(threadId: string): void {
    const now = performance.now();
    const running = this.syncing.get(threadId);
    if (running) {
      if (!running.again) running.firstAt = now;
      running.again = true;
      running.lastAt = now;
      return;
    }
    const state = { again: true, firstAt: now, lastAt: now };
    this.syncing.set(threadId, state);
    const run = (async () => {
      while (state.again && !this.stopped) {
        for (;;) {
          const at = performance.now();
          const wait = Math.min(THREAD_QUIET_MS - (at - state.lastAt), THREAD_MAX_WAIT_MS - (at - state.firstAt));
          if (wait <= 0) break;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
        state.again = false;
        try {
          const { busy } = await this.syncThread!(threadId);
          if (busy && !state.again) {
            // Another runner holds the thread: try again once it is likely done, in case it read before the last write.
            state.again = true;
            state.firstAt = state.lastAt = performance.now() + BUSY_RETRY_MS - THREAD_QUIET_MS;
          }
        } catch (error) {
          this.logger.error({ err: error, threadId }, 'could not sync an agent thread for live events');
        }
      }
      this.syncing.delete(threadId);
    })();
    this.syncRuns.add(run);
    void run.finally(() => this.syncRuns.delete(run));
  }

  /** Delivers batches until none is pending; one batch at a time keeps commit order. */
  private async flushLoop(): Promise<void> {
    // Let the notifications that arrived in the same read join the batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const byTenant = new Map<string, (LiveEvent | ConversationEvent)[]>();
      for (const event of batch) {
        const list = byTenant.get(event.tenantId);
        if (list) list.push(event);
        else byTenant.set(event.tenantId, [event]);
      }
      await Promise.all(
        [...byTenant].map(([tenantId, events]) =>
          this.deliverTenant(tenantId, events).catch((error: unknown) => {
            this.metrics?.failed(events.length);
            this.logger.error({ err: error, tenant: tenantId, events: events.length }, 'could not deliver live events');
          }),
        ),
      );
    }
    this.flushing = undefined;
  }

  private async deliverTenant(tenantId: string, all: (LiveEvent | ConversationEvent)[]): Promise<void> {
    const watches = this.tenants.get(tenantId);
    if (!watches) return;
    const context = this.createContext(tenantId);
    const events = all.filter((event): event is LiveEvent => event.kind !== 'conversation.changed');
    const conversations = all.filter((event): event is ConversationEvent => event.kind === 'conversation.changed');
    await Promise.all([this.deliverSessionEvents(context, watches, events), this.deliverConversations(context, watches, conversations)]);
  }

  /**
   * The batch's messageAdded and sessionChanged events from one statement: its sessions (counting their messages when
   * anyone watches sessions: a dashboard's session list shows the count) and the added messages someone watches. The
   * rows are primed into the batch's loaders, so a selection that reaches them again (`messageAdded { session }`)
   * costs no statement.
   */
  private async deliverSessionEvents(context: RequestContext, watches: TenantWatches, events: LiveEvent[]): Promise<void> {
    const watchesSessions = watches.sessions.groups.size > 0;
    const added = events.filter((event) => event.kind === 'message.added' && watches.messages.has(event.sessionKey));
    if (added.length === 0 && !watchesSessions) return;
    const sessionKeys = new Set((watchesSessions ? events : added).map((event) => event.sessionKey));
    const read = await findSessionsWithMessages(
      asTenantContext(context),
      [...sessionKeys],
      added.map((event) => event.messageKey!),
      { messageCounts: watchesSessions },
    );
    const { sessionByKey, messageCountBySession, messageByKey } = context.loaders;
    for (const key of sessionKeys) {
      const session = read.sessions.get(key);
      sessionByKey.prime(key, session?.row ?? null);
      if (session?.messageCount !== undefined) messageCountBySession.prime(key, session.messageCount);
    }
    for (const message of read.messages) messageByKey.prime(message.id, message);
    this.deliverMessages(context, watches, added, new Map(read.messages.map((message) => [message.id, message])));
    if (watchesSessions) await this.deliverSessions(context, watches, events, read.sessions);
  }

  private async deliverConversations(context: RequestContext, watches: TenantWatches, events: ConversationEvent[]): Promise<void> {
    if (watches.conversations.size === 0 || events.length === 0) return;
    // Changes of one conversation within the batch become one event listing each kind once, in the order first seen.
    const changes = new Map<string, { kinds: Set<ConversationChange>; receivedAt: number }>();
    for (const event of events) {
      let entry = changes.get(event.conversationKey);
      if (!entry) changes.set(event.conversationKey, (entry = { kinds: new Set(), receivedAt: event.receivedAt }));
      for (const kind of event.changes) entry.kinds.add(ConversationChange[kind]);
    }
    const subscribers = [...watches.conversations];
    const filterIndex = new Map<string, number>();
    const filters: (ConversationFilter | null)[] = [];
    for (const watch of subscribers) {
      if (!filterIndex.has(watch.filterKey)) {
        filterIndex.set(watch.filterKey, filters.length);
        filters.push(watch.filter);
      }
    }
    const keys = [...changes.keys()];
    const matches = await matchConversationFilters(asTenantContext(context), keys, filters);
    const matched = keys.filter((key) => matches.get(key)?.some(Boolean));
    if (matched.length === 0) return;
    const rows = await context.loaders.conversationByKey.loadMany(matched);
    let delivered = 0;
    matched.forEach((key, index) => {
      const row = rows[index];
      if (!row || row instanceof Error) return;
      const change = changes.get(key)!;
      const value: ConversationChangedEvent = Object.assign(new ConversationChangedEvent(), {
        conversation: Conversation.fromRow(row),
        changes: [...change.kinds],
      });
      const delivery: LiveDelivery<ConversationChangedEvent> = { value, context, receivedAt: change.receivedAt };
      const flags = matches.get(key)!;
      for (const watch of subscribers) {
        if (!flags[filterIndex.get(watch.filterKey)!] || !watches.conversations.has(watch)) continue;
        watch.sink.push(delivery);
        delivered++;
      }
    });
    this.metrics?.delivered('conversationChanged', delivered);
  }

  private deliverMessages(
    context: RequestContext,
    watches: TenantWatches,
    added: readonly LiveEvent[],
    messages: ReadonlyMap<string, MessageRow>,
  ): void {
    let delivered = 0;
    for (const event of added) {
      const row = messages.get(event.messageKey!);
      // A message deleted (or its transaction's row not visible) by the time it is read is skipped.
      if (!row || row.sessionId !== event.sessionKey) continue;
      const delivery: LiveDelivery<Message> = { value: Message.fromRow(row), context, receivedAt: event.receivedAt };
      for (const sink of watches.messages.get(event.sessionKey) ?? []) {
        sink.push(delivery);
        delivered++;
      }
    }
    if (added.length > 0) this.metrics?.delivered('messageAdded', delivered);
  }

  private async deliverSessions(
    context: RequestContext,
    watches: TenantWatches,
    events: LiveEvent[],
    read: SessionsWithMessages['sessions'],
  ): Promise<void> {
    const { all, bySessionId, inSql } = watches.sessions;
    // Changes of one session within the batch become one event listing each kind once, in the order first seen.
    const changes = new Map<string, { kinds: Set<SessionChange>; receivedAt: number }>();
    for (const event of events) {
      const entry = changes.get(event.sessionKey);
      if (entry) entry.kinds.add(CHANGE_OF_KIND[event.kind]);
      else changes.set(event.sessionKey, { kinds: new Set([CHANGE_OF_KIND[event.kind]]), receivedAt: event.receivedAt });
    }
    // The rows (read tenant-checked with the batch) decide without SQL the groups with no condition or only a session
    // id; only the others are tested by the sessions list's definition, and a filter naming a session id only when a
    // session of the batch has it. The benchmark's 500 per-session filters cost five statements of 100 boolean columns
    // per batch before this.
    const present = [...changes.keys()].filter((key) => read.has(key));
    const externalIdOf = (key: string) => read.get(key)!.row.externalId;
    const reached = new Map<string, SessionWatchGroup[]>(
      present.map((key) => [key, [...all, ...(bySessionId.get(externalIdOf(key)) ?? [])]]),
    );
    const externalIds = new Set(present.map(externalIdOf));
    const tested = [...inSql].filter((group) => group.filter?.sessionId == null || externalIds.has(group.filter.sessionId));
    if (tested.length > 0 && present.length > 0) {
      const flags = await matchSessionFilters(
        asTenantContext(context),
        present,
        tested.map((group) => group.filter),
      );
      for (const [key, matches] of flags) matches.forEach((match, index) => match && reached.get(key)?.push(tested[index]!));
    }
    let delivered = 0;
    for (const key of present) {
      const reachedGroups = reached.get(key)!;
      if (reachedGroups.length === 0) continue;
      const change = changes.get(key)!;
      const { row, messageCount } = read.get(key)!;
      const value: SessionChangedEvent = Object.assign(new SessionChangedEvent(), {
        session: Session.fromRow(row, { messageCount }),
        changes: [...change.kinds],
      });
      const delivery: LiveDelivery<SessionChangedEvent> = { value, context, receivedAt: change.receivedAt };
      for (const group of reachedGroups) {
        for (const sink of group.sinks) {
          sink.push(delivery);
          delivered++;
        }
      }
    }
    this.metrics?.delivered('sessionChanged', delivered);
  }
}

/** What a WebSocket connection gives the subscriptions it runs: the process's bus and its own share of the send queue. */
export interface LiveSubscriber {
  readonly bus: LiveEventBus;
  readonly connection: LiveConnection;
}

/** The context of an operation run over WebSocket; `live` is absent over HTTP, where subscriptions are refused. */
export interface LiveContext extends RequestContext {
  readonly live?: LiveSubscriber;
}
