import { Field, ObjectType, registerEnumType } from 'type-graphql';

/** Domain outcomes a mutation can report without failing the request. */
export enum UserErrorCode {
  ILLEGAL_STATUS_TRANSITION = 'ILLEGAL_STATUS_TRANSITION',
}
registerEnumType(UserErrorCode, {
  name: 'UserErrorCode',
  description: 'Why a mutation did not change anything.',
  valuesConfig: { ILLEGAL_STATUS_TRANSITION: { description: 'The status cannot change that way: only an ACTIVE session can end.' } },
});

/** A typed, expected failure of a mutation, returned in its payload (nothing was written). */
@ObjectType({ simpleResolvers: true, description: 'An expected reason a mutation changed nothing; the request itself succeeded.' })
export class UserError {
  @Field(() => UserErrorCode, { description: 'Stable machine-readable reason.' })
  code!: UserErrorCode;

  @Field({ description: 'Human-readable explanation.' })
  message!: string;

  @Field(() => [String], { description: 'Path of the input field concerned, e.g. ["input", "status"].' })
  field!: string[];
}
