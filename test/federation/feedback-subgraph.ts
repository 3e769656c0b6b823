import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, type DocumentNode } from 'graphql';
import { listenGraphQL, type ListeningGraphQLServer } from './graphql-http';

/**
 * A second, independent Federation 2 subgraph ("feedback") as another team would own it: it adds
 * `Session.csatScore` to convoql's Session entity and has a root field that returns Session
 * references, which the gateway resolves through convoql's `_entities`.
 */
export const feedbackTypeDefs: DocumentNode = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  "A chat session, owned by convoql; feedback only adds the user's rating."
  type Session @key(fields: "id") {
    "convoql's global ID of the session."
    id: ID!
    "Customer satisfaction score the end user gave, 1 to 5; null when not rated."
    csatScore: Int
  }

  type Query {
    "Rated sessions, lowest score first; null where convoql does not know the session (another tenant's)."
    lowestRatedSessions(first: Int! = 10): [Session]!
  }
`);

/** The feedback subgraph on 127.0.0.1, with the Authorization headers it received, in order. */
export interface FeedbackSubgraph extends ListeningGraphQLServer {
  readonly receivedAuthorization: (string | undefined)[];
}

/** Starts the feedback subgraph over `scores` (convoql global session ID → CSAT score). */
export async function startFeedbackSubgraph(scores: ReadonlyMap<string, number>): Promise<FeedbackSubgraph> {
  const schema = buildSubgraphSchema([
    {
      typeDefs: feedbackTypeDefs,
      resolvers: {
        Query: {
          lowestRatedSessions: (_root: unknown, args: { first: number }) =>
            [...scores]
              .sort(([, left], [, right]) => left - right)
              .slice(0, args.first)
              .map(([id]) => ({ id })),
        },
        Session: {
          __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
          csatScore: (session: { id: string }) => scores.get(session.id) ?? null,
        },
      },
    },
  ]);
  const receivedAuthorization: (string | undefined)[] = [];
  const server = await listenGraphQL(new ApolloServer({ schema, plugins: [ApolloServerPluginInlineTraceDisabled()] }), (request) => {
    receivedAuthorization.push(request.headers.authorization);
    return {};
  });
  return { ...server, receivedAuthorization };
}
