import { mapSchema, MapperKind } from '@graphql-tools/utils';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema as parseSchema, GraphQLObjectType, isEnumType, Kind, parse, validate } from 'graphql';
import { breakingChanges, printClientSchema } from '../../src/cli/emit-schema';
import { buildSchema } from '../../src/server/schema';

describe('the schema contract', () => {
  it('breaks nothing of the released schema, and names a removed field or a changed type as a break', async () => {
    const schema = await buildSchema();
    expect(await breakingChanges(schema)).toEqual([]);
    const broken = mapSchema(schema, {
      [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => (typeName === 'Session' && fieldName === 'channel' ? null : field),
    });
    expect(await breakingChanges(broken)).toEqual([expect.stringMatching(/^Session\.channel: Field 'channel' .*removed/)]);
  });

  it('gives clients the API without federation internals, as an SDL any GraphQL tool reads', async () => {
    const client = parseSchema(printClientSchema(await buildSchema()));
    const query = client.getQueryType()!;
    expect(Object.keys(query.getFields())).toEqual(expect.arrayContaining(['sessions', 'session', 'node', 'viewer']));
    expect(query.getFields()).not.toHaveProperty('_entities');
    expect(query.getFields()).not.toHaveProperty('_service');
    expect(client.getType('_Any')).toBeUndefined();
    expect(client.getDirectives().map((directive) => directive.name)).not.toEqual(expect.arrayContaining(['key', 'link']));
    expect(client.getType('Session')).toBeInstanceOf(GraphQLObjectType);
  });

  it('describes every type, enum value and field that a client sees, the root types included', async () => {
    const client = parseSchema(printClientSchema(await buildSchema()));
    const undescribed: string[] = [];
    for (const type of Object.values(client.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Boolean', 'Int', 'Float', 'ID'].includes(type.name)) continue;
      if (!type.description) undescribed.push(type.name);
      if (isEnumType(type)) for (const value of type.getValues()) if (!value.description) undescribed.push(`${type.name}.${value.name}`);
      if ('getFields' in type)
        for (const field of Object.values(type.getFields())) if (!field.description) undescribed.push(`${type.name}.${field.name}`);
    }
    expect(undescribed).toEqual([]);
  });

  it("validates the dashboard's operations against the client SDL, without a non-null variable that has a default (Relay refuses those)", async () => {
    const client = parseSchema(printClientSchema(await buildSchema()));
    const folder = path.join(__dirname, '../../examples/dashboard');
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.graphql'))) {
      const document = parse(readFileSync(path.join(folder, file), 'utf8'));
      expect({ file, errors: validate(client, document).map((error) => error.message) }).toEqual({ file, errors: [] });
      for (const definition of document.definitions) {
        if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
        const nonNullWithDefault = (definition.variableDefinitions ?? [])
          .filter((variable) => variable.type.kind === Kind.NON_NULL_TYPE && variable.defaultValue)
          .map((variable) => `${file}: $${variable.variable.name.value}`);
        expect(nonNullWithDefault).toEqual([]);
      }
    }
  });
});
