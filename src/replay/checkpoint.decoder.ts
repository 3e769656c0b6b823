/**
 * Decodes LangGraph checkpoint blobs and writes AS DATA ONLY.
 *
 * LangGraph.js writes `json` (UTF-8 JSON with LangChain `lc` markers); LangGraph Python writes `msgpack` with
 * extension types naming Python classes. Both are turned into plain JSON-like values: a serialized class instance
 * becomes a plain object carrying its class name under {@link CLASS_KEY} and the class path under
 * {@link CLASS_PATH_KEY}, with the constructor's keyword arguments as its other keys. Nothing is ever evaluated,
 * no class is instantiated, no module is imported and nothing is unpickled: the class names are only labels.
 */
import { DecodeError, ExtData, ExtensionCodec, decode as decodeMsgpack } from '@msgpack/msgpack';

/** A decoded value: JSON data plus `undefined` (LangGraph's `lc:2 undefined` marker) and raw bytes. */
export type DecodedValue = null | undefined | boolean | number | string | Buffer | DecodedValue[] | { [key: string]: DecodedValue };

/** A decoded object (a JSON object, possibly a serialized class instance). */
export type DecodedObject = { [key: string]: DecodedValue };

/** Key holding the class name of a serialized instance, e.g. `"AIMessage"`. */
export const CLASS_KEY = '$class';

/** Key holding the full class path of a serialized instance, e.g. `["langchain_core","messages","AIMessage"]`. */
export const CLASS_PATH_KEY = '$classPath';

/** Key holding the positional constructor arguments of a serialized instance, when it had any. */
export const CLASS_ARGS_KEY = '$args';

/** What is stored in a `checkpoint_blobs` or `checkpoint_writes` row: the encoding and the bytes. */
export interface EncodedValue {
  /** `json`, `msgpack`, `empty`, `bytes`, `bytearray` or `null`; writes may have a NULL type (read as `json`). */
  type: string | null;
  blob: Uint8Array | null;
}

/** Thrown when a blob uses an encoding this decoder refuses (e.g. `pickle`) or its bytes are malformed. */
export class CheckpointDecodeError extends Error {
  override readonly name = 'CheckpointDecodeError';
}

/** Extension type codes of LangGraph Python's msgpack serializer (langgraph.checkpoint.serde.jsonplus). */
const MsgpackExt = {
  constructorSingleArg: 0,
  constructorPositionalArgs: 1,
  constructorKeywordArgs: 2,
  methodSingleArg: 3,
  pydanticV1: 4,
  pydanticV2: 5,
  numpyArray: 6,
} as const;

/** Deepest nesting of msgpack extension payloads accepted before the blob is considered hostile. */
const MAX_EXTENSION_DEPTH = 64;

/** Decodes one blob or write row into plain data; `empty` (and a NULL blob) decodes to `undefined`. */
export function decodeEncodedValue(value: EncodedValue): DecodedValue {
  const type = value.type ?? 'json';
  switch (type) {
    case 'empty':
      return undefined;
    case 'null':
      return null;
    case 'json':
      if (value.blob === null) return undefined;
      return reviveInPlace(parseJson(value.blob));
    case 'msgpack':
      if (value.blob === null) return undefined;
      return decodeLangGraphMsgpack(value.blob);
    case 'bytes':
    case 'bytearray':
      return value.blob === null ? undefined : toBuffer(value.blob);
    default:
      throw new CheckpointDecodeError(
        `Unsupported checkpoint blob encoding: expected json, msgpack, empty, null, bytes or bytearray, received "${type}"`,
      );
  }
}

/**
 * Reads the markers of LangChain/LangGraph JSON serialization as data: `{lc:1,type:"constructor",id,kwargs}` becomes a
 * plain object with its class name, `{lc:2,type:"undefined"}` becomes `undefined`, and the `lc:2` constructor records
 * of Set, Map, RegExp, Error and Uint8Array become arrays, objects, strings and Buffers. The input is not modified.
 */
export function reviveLangChainJson(value: unknown): DecodedValue {
  return reviveInPlace(structuredClone(value));
}

/**
 * {@link reviveLangChainJson} on a value this module owns (fresh from JSON.parse), rewriting it in place: blobs hold
 * the whole message list at every checkpoint, so copying every object would double the cost of a decode.
 */
function reviveInPlace(value: unknown): DecodedValue {
  if (value === null || typeof value !== 'object') return value as DecodedValue;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) value[index] = reviveInPlace(value[index]);
    return value as DecodedValue[];
  }
  const record = value as Record<string, unknown>;
  if (record.lc === 2) {
    if (record.type === 'undefined') return undefined;
    if (record.type === 'delta_snapshot' && 'value' in record) return reviveInPlace(record.value);
    if (record.type === 'constructor') {
      const revived = reviveLcConstructorRecord(record);
      if (revived !== NOT_REVIVED) return revived;
    }
  }
  if (record.lc === 1 && record.type === 'constructor' && isStringArray(record.id)) {
    const kwargs = isPlainObject(record.kwargs) ? record.kwargs : {};
    reviveFields(kwargs);
    // Spreading defines own properties, so a "__proto__" key stays data and never changes a prototype.
    return { [CLASS_KEY]: record.id.at(-1) ?? '', [CLASS_PATH_KEY]: record.id, ...(kwargs as DecodedObject) };
  }
  reviveFields(record);
  return record as DecodedObject;
}

/** Revives every own field of a parsed object in place (JSON.parse makes "__proto__" an own data property). */
function reviveFields(record: Record<string, unknown>): void {
  for (const key of Object.keys(record)) record[key] = reviveInPlace(record[key]);
}

/** Returns the class name of a decoded serialized instance (`"AIMessage"`), or null for plain data. */
export function classNameOf(value: DecodedValue): string | null {
  if (!isDecodedObject(value)) return null;
  const className = value[CLASS_KEY];
  return typeof className === 'string' ? className : null;
}

/** Tells whether a decoded value is an object (and not an array or a Buffer). */
export function isDecodedObject(value: DecodedValue): value is DecodedObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/**
 * Decodes LangGraph Python's msgpack: maps, arrays and scalars as usual; extension types (class instances) become plain
 * objects tagged with their class name; well-known value types (datetime, UUID, Decimal, set, Enum, …) become strings,
 * numbers or arrays. Unknown extension types become `{ $ext: code, data: Buffer }`.
 */
export function decodeLangGraphMsgpack(bytes: Uint8Array): DecodedValue {
  return decodeMsgpackAtDepth(bytes, 0);
}

const NOT_REVIVED: unique symbol = Symbol('not revived');

/** Reads an `lc:2` constructor record of the closed set LangGraph.js writes; anything else stays inert data. */
function reviveLcConstructorRecord(record: Record<string, unknown>): DecodedValue | typeof NOT_REVIVED {
  if (!isStringArray(record.id) || record.id.length !== 1) return NOT_REVIVED;
  const args = Array.isArray(record.args) ? record.args : [];
  const method = record.method ?? null;
  switch (record.id[0]) {
    case 'Set':
      return method === null && Array.isArray(args[0]) ? args[0].map(reviveInPlace) : NOT_REVIVED;
    case 'Map':
      return method === null && Array.isArray(args[0]) ? mapEntriesToData(args[0]) : NOT_REVIVED;
    case 'RegExp':
      return typeof args[0] === 'string' && typeof args[1] === 'string' ? `/${args[0]}/${args[1]}` : NOT_REVIVED;
    case 'Error':
      return typeof args[0] === 'string' ? { name: 'Error', message: args[0] } : NOT_REVIVED;
    case 'Uint8Array':
      return Array.isArray(args[0]) && args[0].every(isByte) ? Buffer.from(args[0] as number[]) : NOT_REVIVED;
    default:
      return NOT_REVIVED;
  }
}

/** A Map's entries as an object when every key is a string, else as a list of `[key, value]` pairs. */
function mapEntriesToData(entries: unknown[]): DecodedValue {
  const pairs = entries.filter((entry): entry is [unknown, unknown] => Array.isArray(entry) && entry.length === 2);
  if (pairs.every(([key]) => typeof key === 'string')) {
    return Object.fromEntries(pairs.map(([key, value]) => [key as string, reviveInPlace(value)]));
  }
  return pairs.map(([key, value]) => [reviveInPlace(key), reviveInPlace(value)]);
}

/** Builds the plain-data form of a serialized class instance. */
function classInstance(path: readonly string[], fields: [string, DecodedValue][], args?: DecodedValue[]): DecodedObject {
  return Object.fromEntries<DecodedValue>([
    [CLASS_KEY, path.at(-1) ?? ''],
    [CLASS_PATH_KEY, [...path]],
    ...(args === undefined ? [] : [[CLASS_ARGS_KEY, args] as [string, DecodedValue]]),
    ...fields,
  ]);
}

function decodeMsgpackAtDepth(bytes: Uint8Array, depth: number): DecodedValue {
  if (depth > MAX_EXTENSION_DEPTH) {
    throw new CheckpointDecodeError(`msgpack extension types nested deeper than ${MAX_EXTENSION_DEPTH} levels`);
  }
  const extensionCodec = new ExtensionCodec();
  for (const code of Object.values(MsgpackExt)) {
    extensionCodec.register({
      type: code,
      encode: () => null,
      decode: (data: Uint8Array) => decodePythonExtension(code, data, depth + 1),
    });
  }
  let raw: unknown;
  try {
    raw = decodeMsgpack(bytes, { extensionCodec, useBigInt64: false });
  } catch (error) {
    if (error instanceof CheckpointDecodeError) throw error;
    const reason = error instanceof DecodeError || error instanceof RangeError ? error.message : String(error);
    throw new CheckpointDecodeError(`Malformed msgpack checkpoint blob: ${reason}`);
  }
  return msgpackToData(raw);
}

/** Converts what @msgpack/msgpack produced (maps, Dates, Uint8Arrays, ExtData) to plain decoded data. */
function msgpackToData(value: unknown): DecodedValue {
  if (value === null || value === undefined) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value as DecodedValue;
  if (Array.isArray(value)) return value.map(msgpackToData);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof ExtData) {
    return { $ext: value.type, data: toBuffer(value.data instanceof Uint8Array ? value.data : new Uint8Array()) };
  }
  if (value instanceof Uint8Array) return toBuffer(value);
  if (value instanceof DecodedMarker) return value.value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, field]) => [key, msgpackToData(field)]));
}

/** Wraps an already converted value so the outer conversion pass keeps it as it is. */
class DecodedMarker {
  constructor(readonly value: DecodedValue) {}
}

/** Reads one Python extension payload (itself msgpack: module, class name, arguments[, method]) as data. */
function decodePythonExtension(code: number, data: Uint8Array, depth: number): DecodedMarker {
  const tuple = decodeMsgpackAtDepth(data, depth);
  if (!Array.isArray(tuple) || typeof tuple[0] !== 'string' || typeof tuple[1] !== 'string') {
    return new DecodedMarker({ $ext: code, data: toBuffer(data) });
  }
  const [moduleName, className, payload, method] = tuple as [string, string, DecodedValue, DecodedValue];
  const path = [...moduleName.split('.'), className];
  switch (code) {
    case MsgpackExt.constructorSingleArg:
      return new DecodedMarker(pythonSingleArgValue(path, payload));
    case MsgpackExt.constructorPositionalArgs:
      return new DecodedMarker(classInstance(path, [], Array.isArray(payload) ? payload : [payload]));
    case MsgpackExt.methodSingleArg:
      // datetime/date/time `fromisoformat` keep their ISO text; other factory methods stay labelled data.
      if (method === 'fromisoformat' && typeof payload === 'string') return new DecodedMarker(payload);
      return new DecodedMarker(classInstance(path, [['$method', method ?? null]], [payload]));
    case MsgpackExt.constructorKeywordArgs:
    case MsgpackExt.pydanticV1:
    case MsgpackExt.pydanticV2:
      return new DecodedMarker(classInstance(path, isDecodedObject(payload) ? Object.entries(payload) : []));
    default:
      return new DecodedMarker(classInstance(path, [], tuple.slice(2)));
  }
}

/** Python values stored as `(module, class, single argument)`: UUID, Decimal, set, Enum, ZoneInfo, IP, secrets. */
function pythonSingleArgValue(path: string[], argument: DecodedValue): DecodedValue {
  const qualifiedName = path.join('.');
  if (qualifiedName === 'uuid.UUID' && typeof argument === 'string' && /^[0-9a-f]{32}$/i.test(argument)) {
    return argument.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5').toLowerCase();
  }
  if (['builtins.set', 'builtins.frozenset', 'collections.deque'].includes(qualifiedName)) {
    return Array.isArray(argument) ? argument : [argument];
  }
  // Secrets are written in clear by Python; they are redacted here so they can never reach an API response.
  if (/Secret(Str|Bytes)$/.test(path.at(-1) ?? '')) return '**********';
  if (['decimal.Decimal', 'zoneinfo.ZoneInfo'].includes(qualifiedName) || (path[0] === 'ipaddress' && typeof argument === 'string')) {
    return argument;
  }
  return classInstance(path, [], [argument]);
}

function parseJson(bytes: Uint8Array): unknown {
  const text = toBuffer(bytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointDecodeError(
      `Malformed JSON checkpoint blob (${bytes.byteLength} bytes): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isByte(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255;
}
