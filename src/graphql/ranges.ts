import { BadUserInputError } from './errors';

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
