import { types } from 'pg';

const TIMESTAMPTZ_OID = 1184;
const parseWithPg = types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date;

/**
 * A `timestamptz` as PostgreSQL writes it in text with DateStyle ISO (`2026-11-01 12:00:00.123456+00`, the offset
 * `±HH[:MM[:SS]]`), read with arithmetic on its characters: node-postgres's regular-expression parser was the
 * costliest part of decoding a page of rows. Anything else (BC dates, infinity, years before 100 or past 9999) goes to it.
 */
export function parseTimestamptz(text: string): Date {
  const length = text.length;
  if (length < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(10) !== 32 || text.charCodeAt(19) === 32) return parseWithPg(text);
  const digits = (from: number, count: number) => {
    let value = 0;
    for (let i = from; i < from + count; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return Number.NaN;
      value = value * 10 + digit;
    }
    return value;
  };
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46) {
    // Milliseconds are the first three digits of the fraction; a Date holds no finer.
    let scale = 100;
    for (at++; at < length; at++) {
      const digit = text.charCodeAt(at) - 48;
      if (digit < 0 || digit > 9) break;
      ms += digit * scale;
      scale = scale >= 10 ? scale / 10 : 0;
    }
  }
  const sign = text.charCodeAt(at);
  if ((sign !== 43 && sign !== 45) || (length !== at + 3 && length !== at + 6 && length !== at + 9)) return parseWithPg(text);
  let offsetSeconds = digits(at + 1, 2) * 3600;
  if (length >= at + 6) offsetSeconds += digits(at + 4, 2) * 60;
  if (length === at + 9) offsetSeconds += digits(at + 7, 2);
  const year = digits(0, 4);
  // Date.UTC reads years 0–99 as 1900–1999.
  if (year < 100) return parseWithPg(text);
  const utc =
    Date.UTC(year, digits(5, 2) - 1, digits(8, 2), digits(11, 2), digits(14, 2), digits(17, 2), ms) -
    (sign === 45 ? -offsetSeconds : offsetSeconds) * 1000;
  return Number.isNaN(utc) ? parseWithPg(text) : new Date(utc);
}

/** node-postgres type parsers: its own, with {@link parseTimestamptz} for `timestamptz` in text. */
export const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ_OID && format !== 'binary' ? parseTimestamptz : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};
