// A request's DataLoaders are made when a resolver first asks for them. Apollo Server clones every request's context
// before running it (`cloneObject` in @apollo/server: Object.assign onto an object of the same prototype), which reads
// every own property: the laziness must survive that clone, and so must readingFrom.
import { createLogger } from '../../src/logger';
import { createRequestContext, readingFrom } from '../../src/server/context';
import type { RequestContext } from '../../src/core/context';
import { startTestServer, type TestServer } from '../helpers/server';

/** As Apollo Server 5 clones a context (ApolloServer.js, `cloneObject`). */
function cloneAsApollo(context: RequestContext): RequestContext {
  return Object.assign(Object.create(Object.getPrototypeOf(context) as object) as RequestContext, context);
}

describe('request context', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  function newContext(): RequestContext {
    return createRequestContext({ db: server.db, config: server.config, logger: createLogger(server.config), viewer: null });
  }

  it("creates no loaders when Apollo clones it, and the clone's on first use", () => {
    const clone = cloneAsApollo(newContext());
    // Before, cloning read the lazy getter and copied the loaders it made as an own property of the clone.
    expect(Object.getOwnPropertyNames(clone)).not.toContain('loaders');
    const loaders = clone.loaders;
    expect(loaders).toHaveProperty('sessionByKey');
    expect(clone.loaders).toBe(loaders);
  });

  it('reads from a replica with loaders of its own, the same request and the same primary', () => {
    const clone = cloneAsApollo(newContext());
    const replica = readingFrom(clone, server.db);
    expect(replica.loaders).not.toBe(clone.loaders);
    expect([replica.requestId, replica.viewer, replica.db, replica.primary]).toEqual([clone.requestId, null, server.db, clone.primary]);
  });
});
