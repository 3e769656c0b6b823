// Batched multi-row INSERTs over one pg connection (PGlite serves a single session), pipelined so
// that generating the next batch overlaps with the database inserting the previous one.
import type { Client } from 'pg';

/** A table and its columns with their PostgreSQL types, in the order rows list their values. */
export interface TableSpec {
  readonly name: string;
  readonly columns: readonly (readonly [name: string, pgType: string])[];
}

/** A parameterized SQL statement. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/** When a buffer is full: at this many rows or this many payload bytes, whichever comes first. */
export interface BatchLimits {
  readonly maxRows: number;
  readonly maxBytes: number;
}

const DEFAULT_LIMITS: BatchLimits = { maxRows: 5_000, maxBytes: 8 * 1024 * 1024 };
// PostgreSQL's protocol allows at most 65,535 bind parameters per statement.
const MAX_PARAMETERS = 65_535;

/**
 * Buffers the rows of one table and turns them into multi-row INSERTs: one UNNEST of an array
 * parameter per column, or, for tables with bytea columns (pg sends a Buffer parameter as binary but
 * would hex-encode it inside an array), a VALUES list with one parameter per value.
 */
export class RowBuffer {
  private rows: unknown[][] = [];
  private bytes = 0;
  private readonly limits: BatchLimits;
  private readonly valuesMode: boolean;
  /** Rows handed out as statements so far. */
  count = 0;
  /** Payload bytes (string lengths and Buffer sizes) handed out so far. */
  byteCount = 0;

  constructor(
    private readonly table: TableSpec,
    limits: Partial<BatchLimits> = {},
  ) {
    this.valuesMode = table.columns.some(([, type]) => type === 'bytea');
    const maxRows = limits.maxRows ?? DEFAULT_LIMITS.maxRows;
    const parameterCap = Math.floor(MAX_PARAMETERS / table.columns.length);
    this.limits = {
      maxRows: this.valuesMode ? Math.min(maxRows, parameterCap) : maxRows,
      maxBytes: limits.maxBytes ?? DEFAULT_LIMITS.maxBytes,
    };
  }

  /** Queues a row (values in column order). */
  add(row: unknown[]): void {
    if (row.length !== this.table.columns.length) {
      throw new Error(`Expected ${this.table.columns.length} values for ${this.table.name}, received ${row.length}`);
    }
    this.rows.push(row);
    this.bytes += byteSize(row);
  }

  /** True when the queued rows reached a limit. */
  get full(): boolean {
    return this.rows.length >= this.limits.maxRows || this.bytes >= this.limits.maxBytes;
  }

  /** Empties the buffer into INSERT statements that each respect the limits. */
  drain(): Statement[] {
    const statements: Statement[] = [];
    let batch: unknown[][] = [];
    let bytes = 0;
    for (const row of this.rows) {
      const size = byteSize(row);
      if (batch.length >= this.limits.maxRows || (batch.length > 0 && bytes + size > this.limits.maxBytes)) {
        statements.push(this.insert(batch));
        batch = [];
        bytes = 0;
      }
      batch.push(row);
      bytes += size;
    }
    if (batch.length > 0) statements.push(this.insert(batch));
    this.count += this.rows.length;
    this.byteCount += this.bytes;
    this.rows = [];
    this.bytes = 0;
    return statements;
  }

  private insert(batch: unknown[][]): Statement {
    const columns = this.table.columns;
    const head = `INSERT INTO ${this.table.name} (${columns.map(([name]) => name).join(', ')})`;
    if (this.valuesMode) {
      const width = columns.length;
      const tuples = batch.map((_, r) => `(${columns.map(([, type], c) => `$${r * width + c + 1}::${type}`).join(', ')})`);
      return { text: `${head} VALUES ${tuples.join(', ')}`, values: batch.flat() };
    }
    const arrays = columns.map(([, type], c) => `$${c + 1}::${type}[]`).join(', ');
    return {
      text: `${head} SELECT * FROM unnest(${arrays})`,
      values: columns.map((_, c) => batch.map((row) => row[c])),
    };
  }
}

function byteSize(row: unknown[]): number {
  let size = 0;
  for (const value of row) {
    if (typeof value === 'string' || Buffer.isBuffer(value)) size += value.length;
  }
  return size;
}

/**
 * Runs batches of statements as transactions on one client, one after the other: submit() chains a
 * transaction behind the queued ones and waits only for the one before it, so the caller builds the
 * next batch while the database works, and at most two batches are held in memory. After a failure
 * the later transactions do not run, and the failure surfaces from the next submit() or finish().
 */
export class TransactionPipeline {
  private inFlight: Promise<void> | undefined;

  constructor(private readonly client: Client) {}

  /** Chains the statements as one transaction, then waits for the previously submitted one. */
  async submit(statements: readonly Statement[]): Promise<void> {
    if (statements.length === 0) return;
    const previous = this.inFlight;
    const current = (previous ?? Promise.resolve()).then(() => this.run(statements));
    // Observed here so a failure is not reported as unhandled before the next submit() awaits it.
    current.catch(() => undefined);
    this.inFlight = current;
    if (previous) await previous;
  }

  /** Waits for every submitted transaction. */
  async finish(): Promise<void> {
    const last = this.inFlight;
    this.inFlight = undefined;
    if (last) await last;
  }

  private async run(statements: readonly Statement[]): Promise<void> {
    await this.client.query('BEGIN');
    try {
      for (const statement of statements) await this.client.query(statement.text, statement.values);
      await this.client.query('COMMIT');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
