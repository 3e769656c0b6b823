/**
 * Decoded checkpoint values in JSON form, for JSONB columns (the sync's rollups) and the GraphQL JSON scalar (step
 * params and results): what LangGraph stored may hold bytes and `undefined`, which JSON cannot.
 */
import type { Prisma } from '../db/client';
import type { DecodedValue } from './checkpoint.decoder';

/** A decoded value in JSON-safe form, for JSONB columns and the JSON scalar: bytes become base64, undefined null. */
export function toJsonValue(value: DecodedValue): Prisma.InputJsonValue | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).flatMap(([key, item]) => (item === undefined ? [] : [[key, toJsonValue(item)]])));
  }
  return value;
}
