import { types } from 'pg';
import { parseTimestamptz } from '../../src/db/timestamps';

const pgParse = types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

describe('parseTimestamptz', () => {
  it('reads every timestamptz shape PostgreSQL writes exactly as node-postgres does', () => {
    const offsets = ['+00', '-00', '+05:30', '-03:30', '+14', '-12', '+05:53:28', '-00:01:15'];
    const fractions = ['', '.1', '.12', '.123', '.1234', '.123456', '.000001', '.999999', '.057', '.289'];
    let random = 42;
    const next = (n: number) => (random = (random * 1103515245 + 12345) % 2 ** 31) % n;
    const pad = (value: number, width: number) => String(value).padStart(width, '0');
    for (let i = 0; i < 2000; i++) {
      const text =
        `${pad(1 + next(9999), 4)}-${pad(1 + next(12), 2)}-${pad(1 + next(28), 2)} ` +
        `${pad(next(24), 2)}:${pad(next(60), 2)}:${pad(next(60), 2)}${fractions[next(fractions.length)]}${offsets[next(offsets.length)]}`;
      expect([text, parseTimestamptz(text).getTime()]).toEqual([text, (pgParse(text) as Date).getTime()]);
    }
  });

  it('leaves BC dates and infinities to node-postgres', () => {
    for (const text of ['0044-03-15 12:00:00+00 BC', 'infinity', '-infinity', '12026-01-01 00:00:00+00']) {
      expect(parseTimestamptz(text)).toEqual(pgParse(text));
    }
  });
});
