import { Field, ObjectType, registerEnumType } from 'type-graphql';

/** Domain outcomes a mutation can report without failing the request. */
export enum UserErrorCode {
  ILLEGAL_STATUS_TRANSITION = 'ILLEGAL_STATUS_TRANSITION',
  NOT_FOUND = 'NOT_FOUND',
  SESSION_ENDED = 'SESSION_ENDED',
  BLANK = 'BLANK',
  TOO_LONG = 'TOO_LONG',
  TOO_DEEP = 'TOO_DEEP',
  IN_FUTURE = 'IN_FUTURE',
  UNKNOWN_ROLE = 'UNKNOWN_ROLE',
  DUPLICATE_IN_CALL = 'DUPLICATE_IN_CALL',
  BATCH_SIZE = 'BATCH_SIZE',
  UNSUPPORTED_CHARACTER = 'UNSUPPORTED_CHARACTER',
}
registerEnumType(UserErrorCode, {
  name: 'UserErrorCode',
  description: 'Why a mutation did not change anything.',
  valuesConfig: {
    ILLEGAL_STATUS_TRANSITION: { description: 'The status cannot change that way: only an ACTIVE session can end.' },
    NOT_FOUND: { description: "The object named by the field does not exist for this tenant (another tenant's looks the same)." },
    SESSION_ENDED: { description: 'The session is CLOSED or EXPIRED and takes no more messages.' },
    BLANK: { description: 'The value is empty or only white space where text is required.' },
    TOO_LONG: { description: 'The value is larger than the configured limit (bytes of text or of JSON, characters of an id).' },
    TOO_DEEP: { description: 'The JSON value nests objects and arrays deeper than the configured limit.' },
    IN_FUTURE: { description: "The timestamp is further ahead of the server's clock than the configured limit allows." },
    UNKNOWN_ROLE: { description: 'The message role is not one of USER, ASSISTANT, SYSTEM or TOOL.' },
    DUPLICATE_IN_CALL: { description: 'Another item of the same call has the same client id.' },
    UNSUPPORTED_CHARACTER: { description: 'The text contains U+0000 (NUL), which PostgreSQL cannot store in text or JSON.' },
    BATCH_SIZE: { description: 'The call holds fewer or more items than a call may (appendMessages: 1 to 500 messages).' },
  },
});

/** A typed, expected failure of a mutation, returned in its payload (nothing was written). */
@ObjectType({ simpleResolvers: true, description: 'An expected reason a mutation changed nothing; the request itself succeeded.' })
export class UserError {
  @Field(() => UserErrorCode, { description: 'Stable machine-readable reason.' })
  code!: UserErrorCode;

  @Field({ description: 'Human-readable explanation.' })
  message!: string;

  @Field(() => [String], {
    description:
      'Path of the input field concerned, e.g. ["input", "status"]; an item of a list is named by its index, e.g. ["input", "messages", "3", "content"].',
  })
  field!: string[];
}

/** A refused part of a mutation's input as a user error, its path below the input argument (`["input", …path]`). */
export function toUserError(
  problem: { readonly path: readonly string[]; readonly code: UserErrorCode; readonly message: string },
  argument = 'input',
): UserError {
  return { code: problem.code, message: problem.message, field: [argument, ...problem.path] };
}
