import { Field, InputType } from 'type-graphql';
import { Prisma } from '../db/client';
import { BadUserInputError } from './errors';
import { Decimal, SafeInt } from './scalars';

/**
 * Rejects time ranges whose lower bound is not strictly before their upper bound, naming the argument
 * (`filter.<lower>`) as received.
 */
export function assertOrderedRanges<T extends object>(
  filter: T | null | undefined,
  ranges: readonly (readonly [keyof T & string, keyof T & string])[],
): void {
  if (!filter) return;
  for (const [lowerName, upperName] of ranges) {
    const lower = filter[lowerName] as Date | null | undefined;
    const upper = filter[upperName] as Date | null | undefined;
    if (lower && upper && lower.getTime() >= upper.getTime()) {
      throw new BadUserInputError(
        `filter.${lowerName} (${lower.toISOString()}) must be before filter.${upperName} (${upper.toISOString()}).`,
        `filter.${lowerName}`,
      );
    }
  }
}

@InputType({ description: 'Bounds of an exact decimal, both inclusive; a missing bound does not restrict.' })
export class DecimalRange {
  @Field(() => Decimal, { nullable: true, description: 'At least this value (inclusive).' })
  min?: string | null;

  @Field(() => Decimal, { nullable: true, description: 'At most this value (inclusive).' })
  max?: string | null;
}

@InputType({ description: 'Bounds of an integer, both inclusive; a missing bound does not restrict.' })
export class IntRange {
  @Field(() => SafeInt, { nullable: true, description: 'At least this value (inclusive).' })
  min?: number | null;

  @Field(() => SafeInt, { nullable: true, description: 'At most this value (inclusive).' })
  max?: number | null;
}

/** Rejects a range whose `min` is greater than its `max`, naming `argument` (e.g. "filter.costUsd"). */
export function assertRange(range: DecimalRange | IntRange | null | undefined, argument: string): void {
  if (range?.min == null || range.max == null) return;
  if (new Prisma.Decimal(range.min).greaterThan(range.max)) {
    throw new BadUserInputError(
      `\`${argument}.min\` (${range.min}) must not be greater than \`${argument}.max\` (${range.max}).`,
      argument,
    );
  }
}
