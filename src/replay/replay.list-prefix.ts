/**
 * Serving `messages` lists as prefixes of newer ones. Every `messages` blob holds the whole list, so the blobs near the
 * end of a long thread are large. Within a run LangGraph appends to the list, so a checkpoint's blob usually extends its
 * parent's byte for byte (across runs it does not: reloaded messages serialize a little differently). A window therefore
 * parses only the newest list of each stretch of extending versions (its anchor) and serves every other list as the
 * first N messages of it, once bytes prove the older list a prefix: its own bytes when they were loaded, else their
 * length and digest ({@link MessagesBlobFacts}: kept by the step index, or computed by PostgreSQL while indexing). A
 * list nothing proves is parsed on its own.
 *
 * The proof on bytes is {@link JsonListBytes.prefixLength}; the sync computes the same facts in PostgreSQL
 * (`selectMessagesFacts` in replay.index-maintenance.ts), and the two must agree.
 */
import { createHash } from 'node:crypto';
import { decodeEncodedValue, type DecodedValue } from './checkpoint.decoder';
import { CheckpointBlobStore, SpecialChannel, type BlobRow } from './checkpoint.rows';
import { messagesPrefix } from './replay.transformer';

/** What the index keeps about a `messages` blob to prove it a byte prefix of a longer one (see the columns). */
export interface MessagesBlobFacts {
  bytes: number;
  /** Messages of the list, when known (the index has them; facts computed from the blobs in SQL do not). */
  count?: number;
  digest: string;
  /** Whether the blob extends the previous version of the window (its parent checkpoint's). */
  extendsPrevious: boolean;
}

/**
 * A blob store for a window's `messages` versions (`ordered` oldest first): each version that extends the next one up
 * to an anchor (the newest of its stretch) is served as the first messages of the anchor's list, proven by bytes when
 * the version's blob was loaded, else by its index facts; anchors and unproven loaded versions are parsed on their own,
 * and unproven versions that were not loaded are returned as missing.
 */
export function buildBlobStore(
  triggers: readonly BlobRow[],
  messageBlobs: ReadonlyMap<string, BlobRow>,
  ordered: readonly string[],
  facts: ReadonlyMap<string, MessagesBlobFacts> | undefined,
  reuse: ReadonlyMap<string, Anchor> = new Map(),
): { store: CheckpointBlobStore; missing: string[]; extendsPrevious: Map<string, boolean>; anchors: Map<string, Anchor> } {
  const extendsPrevious = new Map<string, boolean>();
  ordered.forEach((version, index) => {
    const previous = index === 0 ? undefined : messageBlobs.get(ordered[index - 1] as string);
    const own = messageBlobs.get(version);
    const byBytes = previous !== undefined && own !== undefined ? JsonListBytes.prefixLength(previous, own) !== null : undefined;
    extendsPrevious.set(version, index > 0 && (byBytes ?? facts?.get(version)?.extendsPrevious ?? false));
  });
  const served = new Map<Uint8Array, () => DecodedValue>();
  const anchors = new Map<string, Anchor>();
  const rows: BlobRow[] = [...triggers];
  const missing: string[] = [];
  let anchor: Anchor | null = null;
  // Newest first, so that each version meets the anchor of its stretch before it.
  for (let index = ordered.length - 1; index >= 0; index -= 1) {
    const version = ordered[index] as string;
    const row = messageBlobs.get(version);
    const extendsNext = index < ordered.length - 1 && extendsPrevious.get(ordered[index + 1] as string) === true;
    const count = extendsNext && anchor?.list != null ? proveCount(anchor.list, row, facts?.get(version)) : null;
    if (count !== null && anchor !== null) {
      const source = anchor;
      // A marker row: the store hands its (unique) bytes to the decode function below, which returns the slice.
      const marker = new Uint8Array(0);
      served.set(marker, () => messagesPrefix(parseList(source), count));
      rows.push({ channel: SpecialChannel.messages, version, type: 'json', blob: marker });
      continue;
    }
    if (row === undefined) {
      missing.push(version);
      anchor = null;
      continue;
    }
    rows.push(row);
    const current: Anchor = reuse.get(version) ?? { list: JsonListBytes.of(row) };
    anchors.set(version, current);
    // The older versions not loaded are proven by digests of this list's heads, and the list itself is checked against
    // its own facts before it is cached: hash it once for all of them.
    current.list?.digestHeads(
      ordered.slice(0, index + 1).flatMap((older) => {
        const known = messageBlobs.has(older) && older !== version ? undefined : facts?.get(older);
        return known === undefined ? [] : [known.bytes - 1];
      }),
    );
    if (current.list !== null) served.set(current.list.bytes, () => parseList(current));
    anchor = current;
  }
  const decode = (value: { type: string | null; blob: Uint8Array | null }) =>
    (value.blob === null ? undefined : served.get(value.blob))?.() ?? decodeEncodedValue(value);
  return { store: new CheckpointBlobStore(rows, decode), missing, extendsPrevious, anchors };
}

/** The newest `messages` list of a stretch, parsed at most once (and shared through the cache: never modify it). */
export interface Anchor {
  list: JsonListBytes | null;
  parsed?: DecodedValue[];
}

/** The messages of an anchor that is a JSON list (the only kind versions are served from). */
function parseList(anchor: Anchor): DecodedValue[] {
  return (anchor.parsed ??= decodeEncodedValue({ type: 'json', blob: (anchor.list as JsonListBytes).bytes }) as DecodedValue[]);
}

/** Number of messages of a version proven a prefix of an anchor: by its bytes when loaded, else by its facts. */
function proveCount(anchor: JsonListBytes, row: BlobRow | undefined, facts: MessagesBlobFacts | undefined): number | null {
  if (row !== undefined) {
    const length = JsonListBytes.prefixLength(row, anchor.row);
    return length === null ? null : anchor.countEndingAt(length);
  }
  return facts !== undefined && anchor.digestOfHead(facts.bytes - 1) === facts.digest
    ? anchor.countEndingAt(facts.bytes, facts.count)
    : null;
}

/** A JSON `messages` blob as LangGraph.js writes it (no whitespace), scanned lazily for where its messages end. */
export class JsonListBytes {
  private ends: Map<number, number> | undefined;
  private total = 0;
  private readonly digests = new Map<number, string>();

  private constructor(
    readonly row: BlobRow,
    readonly bytes: Uint8Array,
  ) {}

  /** The blob of a row when it is a JSON list, else null. */
  static of(row: BlobRow | undefined): JsonListBytes | null {
    const bytes = row?.blob;
    if (row?.type !== 'json' || !(bytes instanceof Uint8Array) || bytes[0] !== 0x5b || bytes.at(-1) !== 0x5d) return null;
    return new JsonListBytes(row, bytes);
  }

  /**
   * Length of `shorter`'s blob when its bytes before "]" start `longer`'s and `longer` goes on with "," (or ends
   * there): then `longer`'s first messages are exactly `shorter`'s. Null when not.
   */
  static prefixLength(shorter: BlobRow, longer: BlobRow): number | null {
    const [a, b] = [JsonListBytes.of(shorter), JsonListBytes.of(longer)];
    if (a === null || b === null || a.bytes.byteLength > b.bytes.byteLength) return null;
    const head = a.bytes.byteLength - 1;
    const next = b.bytes[head];
    const boundary = head === 1 || next === 0x2c || (next === 0x5d && head === b.bytes.byteLength - 1);
    return boundary && a.head(head).equals(b.head(head)) ? a.bytes.byteLength : null;
  }

  /** Whether these are the bytes the index facts of their version describe (their length and digest). */
  matches(facts: MessagesBlobFacts | undefined): boolean {
    return facts !== undefined && facts.bytes === this.bytes.byteLength && this.digestOfHead(facts.bytes - 1) === facts.digest;
  }

  /** Hex SHA-256 of the first `length` bytes (cached). */
  digestOfHead(length: number): string | null {
    if (length < 1 || length > this.bytes.byteLength) return null;
    let digest = this.digests.get(length);
    if (digest === undefined) {
      digest = createHash('sha256').update(this.head(length)).digest('hex');
      this.digests.set(length, digest);
    }
    return digest;
  }

  /**
   * Computes (and caches) the digests of several heads in one pass over the bytes: a window proves dozens of lists
   * against one anchor, and hashing each head from the start would hash the anchor once per list.
   */
  digestHeads(lengths: readonly number[]): void {
    const wanted = [...new Set(lengths)]
      .filter((length) => length >= 1 && length <= this.bytes.byteLength && !this.digests.has(length))
      .sort((a, b) => a - b);
    if (wanted.length < 2) return;
    const hash = createHash('sha256');
    let hashed = 0;
    for (const length of wanted) {
      hash.update(this.bytes.subarray(hashed, length));
      hashed = length;
      this.digests.set(length, hash.copy().digest('hex'));
    }
  }

  /**
   * Number of messages of a prefix of `length` bytes ("[" … then "]"), or null when no message ends there; when
   * `expected` is given (a count from the index) it is checked against the boundary instead of scanning.
   */
  countEndingAt(length: number, expected?: number): number | null {
    if (length === 2) return expected === undefined || expected === 0 ? 0 : null;
    const at = length - 1;
    if (at >= this.bytes.byteLength || (this.bytes[at] !== 0x2c && at !== this.bytes.byteLength - 1)) return null;
    if (expected !== undefined) return expected;
    this.scan();
    return at === this.bytes.byteLength - 1 ? this.total : (this.ends?.get(at) ?? null);
  }

  /** Records the offsets of the top-level "," separators (UTF-8 multi-byte sequences never contain ASCII bytes). */
  private scan(): void {
    if (this.ends !== undefined) return;
    const ends = new Map<number, number>();
    let depth = 0;
    let inString = false;
    for (let index = 0; index < this.bytes.byteLength; index += 1) {
      const byte = this.bytes[index];
      if (inString) {
        if (byte === 0x5c) index += 1;
        else if (byte === 0x22) inString = false;
      } else if (byte === 0x22) inString = true;
      else if (byte === 0x5b || byte === 0x7b) depth += 1;
      else if (byte === 0x5d || byte === 0x7d) depth -= 1;
      else if (byte === 0x2c && depth === 1) ends.set(index, ends.size + 1);
    }
    this.ends = ends;
    this.total = this.bytes.byteLength === 2 ? 0 : ends.size + 1;
  }

  private head(length: number): Buffer {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, length);
  }
}
