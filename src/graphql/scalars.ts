import { GraphQLScalarType, Kind } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';

export {
  JSONResolver as JSON,
  JSONObjectResolver as JSONObject,
  NonNegativeIntResolver as NonNegativeInt,
  NonNegativeFloatResolver as NonNegativeFloat,
  LocalDateResolver as LocalDate,
  SafeIntResolver as SafeInt,
} from 'graphql-scalars';

/**
 * graphql-scalars' DateTime, answering with the RFC 3339 string itself rather than a Date: JSON.stringify turns a Date
 * into that string by calling back into JavaScript, which made a 50-row sessions page take it 3× as long.
 */
export const DateTime = new GraphQLScalarType<Date, string>({
  ...DateTimeResolver.toConfig(),
  // A valid Date, what every resolver returns, goes straight out; anything else gets graphql-scalars' checks.
  serialize: (value) =>
    value instanceof Date && !Number.isNaN(value.getTime())
      ? value.toISOString()
      : (DateTimeResolver.serialize(value) as Date).toISOString(),
});

/** An exact decimal number, serialized as a string so no precision is lost (e.g. "0.01234500"). */
export const Decimal = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a string, e.g. "0.01234500"; never rounded through floating point.',
  serialize: (value) => String(value),
  parseValue: (value) => parseDecimal(value),
  parseLiteral: (ast) => parseDecimal(ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT ? ast.value : undefined),
});

function parseDecimal(value: unknown): string {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
  throw new TypeError(`Decimal must be a string of digits like "12.50", received ${JSON.stringify(value)}.`);
}

/** Levels of objects and arrays in `value` (a scalar is 0), counting no further than `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit === 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) {
    deepest = Math.max(deepest, jsonDepth(child, limit - 1));
    if (deepest >= limit) break;
  }
  return 1 + deepest;
}
