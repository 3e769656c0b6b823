import { buildSubgraphSchema } from '@apollo/subgraph';
import { mergeDeep, printSchemaWithDirectives } from '@graphql-tools/utils';
import { Kind, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { buildSchema as buildTypeGraphQLSchema, createResolversMap, type NonEmptyArray } from 'type-graphql';
import { authChecker } from '../core/auth';
import { NodeResolver } from './node.resolver';
import { checkEntityRepresentations } from '../graphql/entities';
import { SessionResolver, sessionFieldResolvers } from '../sessions/session.resolver';
import { MessageResolver } from '../sessions/message.resolver';
import { MessageSearchResolver } from '../sessions/message-search.resolver';
import { ConversationSessionsResolver, SessionConversationResolver } from '../sessions/session-conversation.resolver';
import { sessionEntityResolvers } from '../sessions/session.entities';
import { ConversationResolver } from '../conversations/conversation.resolver';
import { UsageResolver } from '../analytics/usage.resolver';
import { conversationEntityResolvers } from '../conversations/conversation.entities';
import { ReplayResolver } from '../replay/replay.resolver';
import { ViewerResolver } from '../api-keys/viewer.resolver';
import { LiveResolver, liveFieldResolvers } from '../live/live.resolver';

/** Federation 2 link; without it a subgraph silently composes as Federation 1. */
const FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- type-graphql's own resolver class type
const resolvers: NonEmptyArray<Function> = [
  NodeResolver,
  SessionResolver,
  MessageResolver,
  MessageSearchResolver,
  SessionConversationResolver,
  ConversationResolver,
  ConversationSessionsResolver,
  ReplayResolver,
  UsageResolver,
  ViewerResolver,
  LiveResolver,
];

/** Builds convoql's executable schema: type-graphql classes turned into an Apollo Federation 2 subgraph. */
export async function buildSchema(): Promise<GraphQLSchema> {
  const schema = await buildTypeGraphQLSchema({
    resolvers,
    authChecker,
    // Inputs are checked by the resolvers' own assertions; class-validator would only walk empty metadata per call.
    // Likewise every object type sets `simpleResolvers`: its plain fields use graphql's default resolver instead of a
    // middleware wrapper per field and row, as no field middleware is used.
    validate: false,
    // Federation adds its own types and directives afterwards; type-graphql's check would reject them.
    skipCheck: true,
    // Every subscription has its own `subscribe` (fed by src/live/'s bus); type-graphql asks for a PubSub regardless.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error('convoql subscriptions subscribe through src/live/, not through type-graphql topics.');
      },
    },
  });
  const typeDefs = withRootDescriptions(parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`));
  const entityResolvers = { ...sessionEntityResolvers, ...conversationEntityResolvers };
  // Merged field by field, and within a subscription's entry part by part: the plain `resolve` replaces type-graphql's
  // and its `subscribe` stays.
  const resolverMap: object = mergeDeep([createResolversMap(schema), entityResolvers, sessionFieldResolvers, liveFieldResolvers]);
  // The resolver map's types are graphql-tools' loose shape; buildSubgraphSchema checks them at run time.
  const subgraph = buildSubgraphSchema([{ typeDefs, resolvers: resolverMap as never }]);
  checkEntityRepresentations(subgraph, new Set(Object.keys(entityResolvers)));
  return subgraph;
}

/** What GraphiQL's documentation shows for the root types, which type-graphql cannot describe. */
const ROOT_DESCRIPTIONS: Record<string, string> = {
  Query:
    "Reads of the tenant's chat sessions and messages, LangGraph agent threads and their replay, usage and search. " +
    'Every field needs an API key (all but `viewer` one with the `read` scope) and sees only its tenant; lists are Relay connections.',
  Mutation: "Changes to the tenant's data; every field needs an API key with the `write` scope.",
  Subscription:
    "Live changes of the tenant's data, over WebSocket on /graphql (graphql-ws's graphql-transport-ws protocol, the API key " +
    "in connection_init's payload); every field needs an API key with the `read` scope and sees only its tenant's changes.",
};

function withRootDescriptions(document: DocumentNode): DocumentNode {
  return {
    ...document,
    definitions: document.definitions.map((definition) =>
      definition.kind === Kind.OBJECT_TYPE_DEFINITION && ROOT_DESCRIPTIONS[definition.name.value]
        ? { ...definition, description: { kind: Kind.STRING, value: ROOT_DESCRIPTIONS[definition.name.value]!, block: true } }
        : definition,
    ),
  };
}
