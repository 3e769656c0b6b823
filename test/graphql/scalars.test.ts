import { DateTime, isoInstant } from '../../src/graphql/scalars';

describe('isoInstant', () => {
  it('formats exactly as toISOString, at the edges and across the years it handles', () => {
    const edges = [
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '2024-02-29T12:00:00.005Z',
      '1999-12-31T23:59:59.999Z',
      '2000-01-01T00:00:00.010Z',
      '1000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '0999-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z',
      '-000001-01-01T00:00:00.000Z',
    ].map((text) => new Date(text));
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const spread = Array.from({ length: 20_000 }, () => new Date(Math.floor((random() * 2 - 1) * 2 ** 45)));
    for (const date of [...edges, ...spread]) expect(isoInstant(date)).toBe(date.toISOString());
  });
});

describe('DateTime', () => {
  it('answers with the RFC 3339 string, and refuses an invalid Date', () => {
    expect(DateTime.serialize(new Date('2026-11-22T08:00:00.120Z'))).toBe('2026-11-22T08:00:00.120Z');
    expect(DateTime.serialize('2026-11-22T09:00:00+01:00')).toBe('2026-11-22T08:00:00.000Z');
    expect(() => DateTime.serialize(new Date(Number.NaN))).toThrow(/invalid Date/);
  });
});
