import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

/** What an API key may do, as the API shows it. */
export enum ApiKeyScope {
  READ = 'read',
  WRITE = 'write',
  ADMIN = 'admin',
}
registerEnumType(ApiKeyScope, {
  name: 'ApiKeyScope',
  description: 'What an API key may do.',
  valuesConfig: {
    READ: { description: 'Run queries.' },
    WRITE: { description: 'Run mutations.' },
    ADMIN: { description: 'Everything, for any tenant named in the x-tenant-id header.' },
  },
});

@ObjectType({ simpleResolvers: true, description: 'A tenant: one customer of convoql, whose data no other tenant sees.' })
export class Tenant {
  @Field(() => ID, { description: 'The tenant id, e.g. "acme"; an admin key names it in x-tenant-id.' })
  id!: string;

  @Field({ description: 'Display name.' })
  name!: string;
}

@ObjectType({ simpleResolvers: true, description: 'The API key a request was sent with (never the key itself).' })
export class ApiKeyInfo {
  @Field({ description: 'The name given when the key was created.' })
  name!: string;

  @Field(() => [ApiKeyScope], { description: 'What the key may do.' })
  scopes!: ApiKeyScope[];

  @Field({ description: 'True for an admin key, which belongs to no tenant and may act for any.' })
  isAdmin!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'Who a request acts as: its tenant and its API key.' })
export class Viewer {
  @Field(() => Tenant, {
    nullable: true,
    description: 'The tenant the request acts for; null for an admin key that names none, or names one that does not exist.',
  })
  tenant!: Tenant | null;

  @Field(() => ApiKeyInfo, { description: 'The API key the request was sent with.' })
  key!: ApiKeyInfo;
}
