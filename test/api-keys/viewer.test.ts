import { startTestServer, type TestServer } from '../helpers/server';

const VIEWER = '{ viewer { tenant { id name } key { name scopes isAdmin } } }';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe('viewer', () => {
  it("shows a tenant key's tenant, name and scopes, whatever its scopes", async () => {
    expect(await server.graphql(VIEWER)).toMatchObject({
      status: 200,
      data: {
        viewer: { tenant: { id: 'acme', name: 'Acme Inc.' }, key: { name: 'test read+write', scopes: ['READ', 'WRITE'], isAdmin: false } },
      },
    });
    const writeOnly = await server.createKey('globex', ['write']);
    expect((await server.graphql(VIEWER, {}, { apiKey: writeOnly })).data).toEqual({
      viewer: { tenant: { id: 'globex', name: 'Globex Corporation' }, key: { name: 'test write', scopes: ['WRITE'], isAdmin: false } },
    });
  });

  it('shows the tenant an admin key acts for, and none when it names none or one that does not exist', async () => {
    const admin = await server.createKey(null, ['admin']);
    const viewer = async (tenant?: string) => (await server.graphql(VIEWER, {}, { apiKey: admin, tenant })).data;
    expect(await viewer('globex')).toEqual({
      viewer: { tenant: { id: 'globex', name: 'Globex Corporation' }, key: { name: 'test admin', scopes: ['ADMIN'], isAdmin: true } },
    });
    expect(await viewer()).toEqual({ viewer: { tenant: null, key: { name: 'test admin', scopes: ['ADMIN'], isAdmin: true } } });
    expect(await viewer('no-such-tenant')).toEqual({
      viewer: { tenant: null, key: { name: 'test admin', scopes: ['ADMIN'], isAdmin: true } },
    });
  });

  it('is UNAUTHENTICATED without a key, and a tenant key cannot look through another tenant', async () => {
    const anonymous = await server.graphql(VIEWER, {}, { apiKey: null });
    expect(anonymous.data).toBeNull();
    expect(anonymous.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    const foreign = await server.graphql(VIEWER, {}, { tenant: 'globex' });
    expect(foreign.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(foreign)).not.toContain('Globex Corporation');
  });
});
