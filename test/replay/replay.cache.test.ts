import { ByteBoundedCache, messagesCacheKey } from '../../src/replay/replay.cache';

describe('ByteBoundedCache', () => {
  test('keeps entries within its byte bound, dropping the least recently used first', () => {
    const cache = new ByteBoundedCache<string>(100);
    cache.set('a', 'A', 25);
    cache.set('b', 'B', 25);
    cache.set('c', 'C', 25);
    expect(cache.get('a')).toBe('A'); // now the most recently used
    cache.set('d', 'D', 25);
    cache.set('e', 'E', 25);
    expect(cache.bytes).toBeLessThanOrEqual(100);
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd', 'e'].map((key) => cache.get(key))).toEqual(['A', 'C', 'D', 'E']);
  });

  test('does not keep an entry larger than a quarter of the bound, and replacing an entry recounts it', () => {
    const cache = new ByteBoundedCache<string>(100);
    cache.set('big', 'X', 26);
    expect(cache.get('big')).toBeUndefined();
    expect(cache.bytes).toBe(0);
    cache.set('a', 'A', 20);
    cache.set('a', 'A2', 10);
    expect(cache.get('a')).toBe('A2');
    expect(cache.bytes).toBe(10);
    expect(cache.size).toBe(1);
  });

  test('keys of different threads, namespaces and versions never collide', () => {
    const keys = [
      messagesCacheKey('t1', '', '12'),
      messagesCacheKey('t1', '1', '2'),
      messagesCacheKey('t11', '', '2'),
      messagesCacheKey('t1', 'a:b', '2'),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
