/** Reads LangGraph's checkpoint tables with plain `pg`, in the row shapes the replay engine takes. */
import type { ClientBase } from 'pg';
import type { BlobKey, BlobRow, CheckpointRow, WriteRow } from '../../src/replay/checkpoint.rows';

/** All rows of one (thread, namespace). */
export interface ThreadRows {
  checkpoints: CheckpointRow[];
  blobs: BlobRow[];
  writes: WriteRow[];
}

const CHECKPOINT_COLUMNS = `thread_id AS "threadId", checkpoint_ns AS "checkpointNs", checkpoint_id AS "checkpointId",
  parent_checkpoint_id AS "parentCheckpointId", checkpoint, metadata`;

const WRITE_COLUMNS = `checkpoint_id AS "checkpointId", task_id AS "taskId", idx, channel, type, blob`;

/** Loads every checkpoint, blob and write of one (thread, namespace). */
export async function loadThreadRows(client: ClientBase, threadId: string, namespace = ''): Promise<ThreadRows> {
  // One client runs one query at a time, so the three reads are sequential.
  const checkpoints = await client.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 ORDER BY checkpoint_id`,
    [threadId, namespace],
  );
  const blobs = await client.query<BlobRow>(
    `SELECT channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = $1 AND checkpoint_ns = $2`,
    [threadId, namespace],
  );
  const writes = await client.query<WriteRow>(
    `SELECT ${WRITE_COLUMNS} FROM checkpoint_writes WHERE thread_id = $1 AND checkpoint_ns = $2`,
    [threadId, namespace],
  );
  return { checkpoints: checkpoints.rows, blobs: blobs.rows, writes: writes.rows };
}

/** Loads only the checkpoint headers of one (thread, namespace): no blob and no write. */
export async function loadCheckpointHeaders(client: ClientBase, threadId: string, namespace = ''): Promise<CheckpointRow[]> {
  const result = await client.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM checkpoints WHERE thread_id = $1 AND checkpoint_ns = $2 ORDER BY checkpoint_id`,
    [threadId, namespace],
  );
  return result.rows;
}

/** Loads the given blobs: with bytes for `withData`, the `type` column only for `typeOnly`. */
export async function loadBlobs(
  client: ClientBase,
  threadId: string,
  namespace: string,
  withData: readonly BlobKey[],
  typeOnly: readonly BlobKey[],
): Promise<BlobRow[]> {
  const select = async (keys: readonly BlobKey[], columns: string) => {
    if (keys.length === 0) return [];
    const result = await client.query<BlobRow>(
      `SELECT ${columns} FROM checkpoint_blobs b
         JOIN unnest($3::text[], $4::text[]) AS k(channel, version) USING (channel, version)
        WHERE b.thread_id = $1 AND b.checkpoint_ns = $2`,
      [threadId, namespace, keys.map((key) => key.channel), keys.map((key) => key.version)],
    );
    return result.rows;
  };
  const data = await select(withData, 'channel, version, type, blob');
  const types = await select(typeOnly, 'channel, version, type');
  return [...types, ...data];
}

/** Loads the writes stored under the given checkpoints. */
export async function loadWrites(
  client: ClientBase,
  threadId: string,
  namespace: string,
  checkpointIds: readonly string[],
): Promise<WriteRow[]> {
  const result = await client.query<WriteRow>(
    `SELECT ${WRITE_COLUMNS} FROM checkpoint_writes
      WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = ANY($3::text[])`,
    [threadId, namespace, checkpointIds],
  );
  return result.rows;
}

/** Lists the namespaces of a thread ("" first). */
export async function loadNamespaces(client: ClientBase, threadId: string): Promise<string[]> {
  const result = await client.query<{ ns: string }>(
    `SELECT DISTINCT checkpoint_ns AS ns FROM checkpoints WHERE thread_id = $1 ORDER BY checkpoint_ns`,
    [threadId],
  );
  return result.rows.map((row) => row.ns);
}
