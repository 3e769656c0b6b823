import childProcess from 'node:child_process';
import { ExtData, encode } from '@msgpack/msgpack';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import {
  CLASS_KEY,
  CLASS_PATH_KEY,
  CheckpointDecodeError,
  classNameOf,
  decodeEncodedValue,
  decodeLangGraphMsgpack,
  reviveLangChainJson,
  type DecodedObject,
} from '../../src/replay/checkpoint.decoder';
import {
  CheckpointBlobStore,
  CheckpointWriteStore,
  type BlobRow,
  type CheckpointRow,
  type WriteRow,
} from '../../src/replay/checkpoint.rows';
import { readMessage } from '../../src/replay/replay.messages';
import { transformThread } from '../../src/replay/replay.transformer';

/** A Python `JsonPlusSerializer` extension: msgpack of (module, class, argument[, method]). */
function pythonExt(code: number, ...tuple: unknown[]): ExtData {
  return new ExtData(code, encode(tuple));
}

const json = (value: unknown) => ({ type: 'json', blob: Buffer.from(JSON.stringify(value), 'utf8') });
const msgpack = (value: unknown) => ({ type: 'msgpack', blob: Buffer.from(encode(value)) });

describe('JSON blobs written by LangGraph.js', () => {
  test('what the real JsonPlusSerializer writes decodes to plain data', async () => {
    // PostgresSaver's own serializer; the pool is never connected.
    const saver = PostgresSaver.fromConnString('postgres://unused@127.0.0.1:1/unused');
    try {
      const [type, bytes] = await saver.serde.dumpsTyped({
        messages: [
          new HumanMessage({ id: 'h1', content: 'Hi 👋 你好' }),
          new AIMessage({
            id: 'a1',
            content: [{ type: 'text', text: 'Calling.' }],
            tool_calls: [{ id: 'c1', name: 'search', args: { q: 'x' }, type: 'tool_call' }],
            usage_metadata: { input_tokens: 3, output_tokens: 4, total_tokens: 7 },
          }),
          new ToolMessage({ id: 't1', content: 'found', tool_call_id: 'c1', name: 'search', status: 'error' }),
        ],
        tags: new Set(['a', 'b']),
        byName: new Map([['k', 1]]),
        missing: undefined,
        pattern: /a+/gi,
        failure: new Error('boom'),
        raw: new Uint8Array([1, 2, 3]),
      });
      const decoded = decodeEncodedValue({ type, blob: bytes }) as DecodedObject;
      const [human, ai, tool] = decoded.messages as DecodedObject[];
      expect(human).toMatchObject({ [CLASS_KEY]: 'HumanMessage', id: 'h1', content: 'Hi 👋 你好' });
      expect(human?.[CLASS_PATH_KEY]).toEqual(['langchain_core', 'messages', 'HumanMessage']);
      expect(ai).toMatchObject({ [CLASS_KEY]: 'AIMessage', id: 'a1', tool_calls: [{ id: 'c1', name: 'search', args: { q: 'x' } }] });
      expect(classNameOf(tool as DecodedObject)).toBe('ToolMessage');
      expect(tool).toMatchObject({ tool_call_id: 'c1', status: 'error' });
      expect('artifact' in (tool as DecodedObject) ? (tool as DecodedObject).artifact : undefined).toBeUndefined();
      expect(decoded).toMatchObject({
        tags: ['a', 'b'],
        byName: { k: 1 },
        pattern: '/a+/gi',
        failure: { name: 'Error', message: 'boom' },
      });
      expect('missing' in decoded && decoded.missing === undefined).toBe(true);
      expect(decoded.raw).toEqual(Buffer.from([1, 2, 3]));
      expect(readMessage(ai ?? null)).toMatchObject({
        role: 'ai',
        text: 'Calling.',
        toolCalls: [{ id: 'c1', name: 'search', args: { q: 'x' }, error: null }],
        usage: { input: 3, output: 4, total: 7, reasoning: null },
      });
    } finally {
      await saver.end();
    }
  });

  test('markers outside the closed set stay inert data', () => {
    const record = { lc: 2, type: 'constructor', id: ['Function'], args: ['return process.exit(1)'] };
    expect(decodeEncodedValue(json(record))).toEqual(record);
    const deep = { lc: 2, type: 'constructor', id: ['Set'], method: 'constructor', args: [[1]] };
    expect(decodeEncodedValue(json(deep))).toEqual(deep);
    const notAnLcObject = { lc: 1, type: 'not_implemented', id: ['x', 'Y'], repr: 'Y()' };
    expect(decodeEncodedValue(json(notAnLcObject))).toEqual(notAnLcObject);
  });

  test('a "__proto__" key stays an own data property and never changes a prototype', () => {
    const text =
      '{"lc":1,"type":"constructor","id":["langchain_core","messages","AIMessage"],' +
      '"kwargs":{"content":"x","__proto__":{"polluted":true},"nested":{"__proto__":{"polluted":true}}}}';
    const decoded = decodeEncodedValue({ type: 'json', blob: Buffer.from(text) }) as DecodedObject;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.nested)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(decoded, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('reviveLangChainJson leaves its input untouched', () => {
    const input = { value: { lc: 2, type: 'undefined' }, list: [{ lc: 2, type: 'constructor', id: ['Set'], args: [[1]] }] };
    const copy = structuredClone(input);
    expect(reviveLangChainJson(input)).toEqual({ value: undefined, list: [[1]] });
    expect(input).toEqual(copy);
  });

  test('encodings: empty, null, bytes, NULL write type, and refused ones', () => {
    expect(decodeEncodedValue({ type: 'empty', blob: null })).toBeUndefined();
    expect(decodeEncodedValue({ type: 'null', blob: Buffer.alloc(0) })).toBeNull();
    expect(decodeEncodedValue({ type: 'bytes', blob: new Uint8Array([7]) })).toEqual(Buffer.from([7]));
    expect(decodeEncodedValue({ type: null, blob: Buffer.from('[1]') })).toEqual([1]);
    expect(() => decodeEncodedValue({ type: 'pickle', blob: Buffer.from('cos\nsystem\n') })).toThrow(
      new CheckpointDecodeError(
        'Unsupported checkpoint blob encoding: expected json, msgpack, empty, null, bytes or bytearray, received "pickle"',
      ),
    );
    expect(() => decodeEncodedValue({ type: 'json', blob: Buffer.from('{"a":') })).toThrow(CheckpointDecodeError);
  });
});

describe('msgpack blobs written by LangGraph Python', () => {
  test('extension types decode to plain data and nothing is executed', () => {
    const execSync = jest.spyOn(childProcess, 'execSync');
    const spawn = jest.spyOn(childProcess, 'spawn');
    const evaluate = jest.spyOn(globalThis, 'eval');
    try {
      const decoded = decodeLangGraphMsgpack(
        encode({
          message: pythonExt(
            5,
            'langchain_core.messages.ai',
            'AIMessage',
            {
              content: 'hi',
              type: 'ai',
              id: 'm1',
              tool_calls: [{ id: 'c1', name: 'lookup', args: { key: 'k' }, type: 'tool_call' }],
              usage_metadata: { input_tokens: 5, output_tokens: 6, total_tokens: 11 },
              response_metadata: { model_name: 'gpt-py' },
            },
            'model_validate_json',
          ),
          threadUuid: pythonExt(0, 'uuid', 'UUID', '1f1e60bfd15a6940ffff3406d8a1bcad'),
          at: pythonExt(3, 'datetime', 'datetime', '2024-01-02T03:04:05+00:00', 'fromisoformat'),
          tags: pythonExt(0, 'builtins', 'set', ['x', 'y']),
          price: pythonExt(0, 'decimal', 'Decimal', '1.10'),
          interrupt: pythonExt(2, 'langgraph.types', 'Interrupt', { value: { ask: 'ok?' }, id: 'i1' }),
          path: pythonExt(1, 'pathlib', 'PosixPath', ['/', 'etc']),
          secret: pythonExt(0, 'pydantic.types', 'SecretStr', 'sk-live-123'),
          hostile: pythonExt(0, 'os', 'system', 'touch /tmp/pwned'),
          hostileMethod: pythonExt(3, 'subprocess', 'Popen', 'rm -rf /', 'communicate'),
          unknown: new ExtData(42, new Uint8Array([1, 2])),
          when: new Date('2024-05-06T07:08:09.000Z'),
        }),
      ) as DecodedObject;
      expect(decoded.message).toEqual({
        [CLASS_KEY]: 'AIMessage',
        [CLASS_PATH_KEY]: ['langchain_core', 'messages', 'ai', 'AIMessage'],
        content: 'hi',
        type: 'ai',
        id: 'm1',
        tool_calls: [{ id: 'c1', name: 'lookup', args: { key: 'k' }, type: 'tool_call' }],
        usage_metadata: { input_tokens: 5, output_tokens: 6, total_tokens: 11 },
        response_metadata: { model_name: 'gpt-py' },
      });
      expect(decoded).toMatchObject({
        threadUuid: '1f1e60bf-d15a-6940-ffff-3406d8a1bcad',
        at: '2024-01-02T03:04:05+00:00',
        tags: ['x', 'y'],
        price: '1.10',
        interrupt: { [CLASS_KEY]: 'Interrupt', value: { ask: 'ok?' }, id: 'i1' },
        path: { [CLASS_KEY]: 'PosixPath', $args: ['/', 'etc'] },
        secret: '**********',
        hostile: { [CLASS_KEY]: 'system', [CLASS_PATH_KEY]: ['os', 'system'], $args: ['touch /tmp/pwned'] },
        hostileMethod: { [CLASS_KEY]: 'Popen', $method: 'communicate', $args: ['rm -rf /'] },
        unknown: { $ext: 42, data: Buffer.from([1, 2]) },
        when: '2024-05-06T07:08:09.000Z',
      });
      expect(readMessage(decoded.message ?? null)).toMatchObject({
        role: 'ai',
        id: 'm1',
        model: 'gpt-py',
        toolCalls: [{ id: 'c1', name: 'lookup', args: { key: 'k' } }],
      });
      expect(execSync).not.toHaveBeenCalled();
      expect(spawn).not.toHaveBeenCalled();
      expect(evaluate).not.toHaveBeenCalled();
    } finally {
      execSync.mockRestore();
      spawn.mockRestore();
      evaluate.mockRestore();
    }
  });

  test('hostile structure is refused with a CheckpointDecodeError', () => {
    const protoKey = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0xc0]);
    expect(() => decodeLangGraphMsgpack(protoKey)).toThrow(CheckpointDecodeError);
    let nested: unknown = 'bottom';
    for (let depth = 0; depth < 70; depth += 1) nested = pythonExt(0, 'm', 'C', nested);
    expect(() => decodeLangGraphMsgpack(encode(nested))).toThrow(/nested deeper than 64 levels/);
    expect(() => decodeLangGraphMsgpack(Buffer.from([0xc1]))).toThrow(CheckpointDecodeError);
  });

  test('a LangGraph Python thread (msgpack blobs, string versions, inline values) replays', () => {
    const version = (n: number) => `${String(n).padStart(32, '0')}.0.${n * 7}`;
    const human = pythonExt(
      5,
      'langchain_core.messages.human',
      'HumanMessage',
      { content: 'Hola 🌮', type: 'human', id: 'h1' },
      'model_validate_json',
    );
    const ai = pythonExt(
      5,
      'langchain_core.messages.ai',
      'AIMessage',
      {
        content: '',
        type: 'ai',
        id: 'a1',
        tool_calls: [{ id: 'c1', name: 'lookup', args: { key: 'k' } }],
        usage_metadata: { input_tokens: 9, output_tokens: 2, total_tokens: 11 },
        response_metadata: { model_name: 'gpt-py' },
      },
      'model_validate_json',
    );
    const row = (id: string, parent: string | null, step: number, source: string, checkpoint: object): CheckpointRow => ({
      checkpointNs: '',
      checkpointId: id,
      parentCheckpointId: parent,
      checkpoint: { v: 1, id, ts: `2024-01-01T00:00:0${step + 1}.000000+00:00`, ...checkpoint },
      metadata: { source, step, parents: {} },
    });
    const ids = ['1ef00000-0000-6000-ffff-000000000000', '1ef00000-0000-6001-8000-000000000000', '1ef00000-0000-6002-8001-000000000000'];
    const checkpoints = [
      row(ids[0] as string, null, -1, 'input', {
        channel_versions: { __start__: version(1) },
        versions_seen: { __input__: {} },
        channel_values: {},
      }),
      row(ids[1] as string, ids[0] as string, 0, 'loop', {
        channel_versions: { __start__: version(2), messages: version(2), 'branch:to:agent': version(2) },
        versions_seen: { __input__: {}, __start__: { __start__: version(1) } },
        channel_values: { 'branch:to:agent': null },
      }),
      row(ids[2] as string, ids[1] as string, 1, 'loop', {
        channel_versions: { __start__: version(2), messages: version(3), 'branch:to:agent': version(2), 'branch:to:tools': version(3) },
        versions_seen: { __input__: {}, __start__: { __start__: version(1) }, agent: { 'branch:to:agent': version(2) } },
        channel_values: { 'branch:to:tools': null },
      }),
    ];
    const blobs: BlobRow[] = [
      { channel: '__start__', version: version(1), ...msgpack({ messages: [{ role: 'user', content: 'Hola 🌮' }] }) },
      { channel: '__start__', version: version(2), type: 'empty', blob: null },
      { channel: 'messages', version: version(2), ...msgpack([human]) },
      { channel: 'messages', version: version(3), ...msgpack([human, ai]) },
    ];
    const writes: WriteRow[] = [
      { checkpointId: ids[2] as string, taskId: 'python-task', idx: -1, channel: '__error__', ...msgpack("ValueError('bad key')") },
    ];
    const steps = transformThread({ checkpoints, blobs: new CheckpointBlobStore(blobs), writes: new CheckpointWriteStore(writes) });
    expect(steps.map((step) => [step.type, step.node, step.content ?? step.toolCallId])).toEqual([
      ['USER_MESSAGE', '__start__', 'Hola 🌮'],
      ['TOOL_CALL', 'agent', 'c1'],
      ['ERROR', 'tools', 'bad key'],
    ]);
    expect(steps[1]).toMatchObject({ tokens: { input: 9, output: 2, total: 11, reasoning: null }, model: 'gpt-py', durationMs: 1000 });
    expect(steps[2]?.result).toEqual({ name: 'ValueError', message: 'bad key' });
  });
});
