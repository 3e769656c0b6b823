import { DateTime } from '../../src/graphql/scalars';

describe('DateTime', () => {
  it('answers with the RFC 3339 string, and refuses an invalid Date', () => {
    expect(DateTime.serialize(new Date('2026-11-22T08:00:00.120Z'))).toBe('2026-11-22T08:00:00.120Z');
    expect(DateTime.serialize('2026-11-22T09:00:00+01:00')).toBe('2026-11-22T08:00:00.000Z');
    expect(() => DateTime.serialize(new Date(Number.NaN))).toThrow(/invalid Date/);
  });
});
