import { Directive, Field, ObjectType, registerEnumType } from 'type-graphql';
import { Connection } from '../graphql/connection';
import { toGlobalId } from '../graphql/global-id';
import { Node } from '../graphql/node';
import { DateTime, JSONObject } from '../graphql/scalars';
import { MessageRole } from '../generated/prisma/enums';
import type { Message as MessageRow } from '../generated/prisma/client';

export { MessageRole };
registerEnumType(MessageRole, {
  name: 'MessageRole',
  description: 'Who wrote a message.',
  valuesConfig: {
    USER: { description: 'The end user.' },
    ASSISTANT: { description: 'The bot or model.' },
    SYSTEM: { description: 'A system prompt or notice.' },
    TOOL: { description: 'The output of a tool the assistant called.' },
  },
});

/** One message of a session. */
@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Node, description: 'One message of a chat session.' })
export class Message extends Node {
  /** The database key; not a GraphQL field. */
  key!: string;
  /** The session's database key, for the `session` field. */
  sessionKey!: string;

  @Field(() => MessageRole, { description: 'Who wrote it.' })
  role!: MessageRole;

  @Field({ description: 'The text of the message.' })
  content!: string;

  @Field(() => DateTime, { description: 'When it was written.' })
  createdAt!: Date;

  @Field(() => String, {
    nullable: true,
    description:
      "The writer's own id of the message (appendMessages' idempotency key, unique in its session); null for messages written otherwise.",
  })
  clientMessageId!: string | null;

  @Field(() => JSONObject, {
    description: 'Retrieval hits, tool calls, errors, token usage and model, as the bot recorded them (shape in the README).',
  })
  metadata!: Record<string, unknown>;

  /** Maps a database row to its GraphQL object. */
  static fromRow(row: MessageRow): Message {
    const message = new Message();
    message.key = row.id;
    message.sessionKey = row.sessionId;
    message.id = toGlobalId('Message', row.id);
    message.role = row.role;
    message.content = row.content;
    message.createdAt = row.createdAt;
    message.clientMessageId = row.clientMessageId;
    message.metadata =
      typeof row.metadata === 'object' && row.metadata !== null && !Array.isArray(row.metadata)
        ? (row.metadata as Record<string, unknown>)
        : {};
    return message;
  }
}

@ObjectType({ simpleResolvers: true, description: 'A page of messages, oldest first.' })
export class MessageConnection extends Connection(Message, 'message') {}
