import { Field, InputType } from 'type-graphql';
import { DateTime, JSONObject } from '../graphql/scalars';
import { MAX_APPEND_BATCH, MAX_ID_LENGTH } from './session.write-checks';

@InputType({ description: 'One message to append.' })
export class AppendMessageInput {
  @Field({
    description: `The writer's own id of the message, unique within the session (at most ${MAX_ID_LENGTH} characters): a message whose id is already stored is not written again.`,
  })
  clientMessageId!: string;

  @Field({ description: 'Who wrote it: USER, ASSISTANT, SYSTEM or TOOL, in any case (`user` is USER).' })
  role!: string;

  @Field({ description: 'The text of the message, at most INGEST_MAX_CONTENT_BYTES bytes (UTF-8).' })
  content!: string;

  @Field(() => DateTime, {
    nullable: true,
    description: "When it was written; default the server's time of the call. At most INGEST_MAX_FUTURE_SECONDS ahead.",
  })
  createdAt?: Date | null;

  @Field(() => JSONObject, {
    nullable: true,
    description: 'Retrieval hits, tool calls, errors, usage and model (shape in the README), within the metadata limits.',
  })
  metadata?: Record<string, unknown> | null;
}

@InputType({ description: "Messages to append to one of the tenant's sessions, all or none." })
export class AppendMessagesInput {
  @Field({ description: "The bot's own session id of an existing session (create it with upsertSession)." })
  sessionId!: string;

  @Field(() => [AppendMessageInput], { description: `1 to ${MAX_APPEND_BATCH} messages, in the order they were written.` })
  messages!: AppendMessageInput[];
}
