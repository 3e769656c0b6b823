import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema as buildTypeGraphQLSchema, createResolversMap, type NonEmptyArray } from 'type-graphql';
import { authChecker } from '../core/auth';
import { NodeResolver } from './node.resolver';
import { checkEntityRepresentations } from '../graphql/entities';
import { SessionResolver } from '../sessions/session.resolver';
import { MessageResolver } from '../sessions/message.resolver';
import { MessageSearchResolver } from '../sessions/message-search.resolver';
import { sessionEntityResolvers } from '../sessions/session.entities';
import { ConversationResolver } from '../conversations/conversation.resolver';
import { UsageResolver } from '../analytics/usage.resolver';
import { conversationEntityResolvers } from '../conversations/conversation.entities';
import { ReplayResolver } from '../replay/replay.resolver';
import { ViewerResolver } from '../api-keys/viewer.resolver';

/** Federation 2 link; without it a subgraph silently composes as Federation 1. */
const FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- type-graphql's own resolver class type
const resolvers: NonEmptyArray<Function> = [
  NodeResolver,
  SessionResolver,
  MessageResolver,
  MessageSearchResolver,
  ConversationResolver,
  ReplayResolver,
  UsageResolver,
  ViewerResolver,
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
  });
  const typeDefs = parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`);
  const resolverMap = createResolversMap(schema) as Record<string, object>;
  const entityResolvers = { ...sessionEntityResolvers, ...conversationEntityResolvers };
  for (const [typeName, entity] of Object.entries(entityResolvers)) {
    resolverMap[typeName] = { ...resolverMap[typeName], ...entity };
  }
  // The resolver map's types are graphql-tools' loose shape; buildSubgraphSchema checks them at run time.
  const subgraph = buildSubgraphSchema([{ typeDefs, resolvers: resolverMap as never }]);
  checkEntityRepresentations(subgraph, new Set(Object.keys(entityResolvers)));
  return subgraph;
}
