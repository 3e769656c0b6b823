import { newRowIds } from '../../src/db/row-ids';

describe('newRowIds', () => {
  it('gives UUIDs of version 7 and RFC 9562 variant, the time first, ascending within a call', () => {
    const now = Date.parse('2026-12-07T15:00:00.000Z');
    const ids = newRowIds(1000, now);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
    }
    expect([...ids].sort()).toEqual(ids);
  });

  it('orders the ids of a later millisecond after those of an earlier one', () => {
    const earlier = newRowIds(100, 1_800_000_000_000);
    const later = newRowIds(100, 1_800_000_000_001);
    expect(earlier[earlier.length - 1]! < later[0]!).toBe(true);
  });

  it('gives none for a count of 0', () => {
    expect(newRowIds(0)).toEqual([]);
  });
});
