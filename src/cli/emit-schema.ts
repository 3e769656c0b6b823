import 'reflect-metadata';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { mapSchema, MapperKind } from '@graphql-tools/utils';
import { parse, printSchema, type GraphQLSchema } from 'graphql';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSchema } from '../server/schema';
import { UsageError } from './cli-support';

const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');
/** The committed subgraph SDL, with @link and @key (graphql's printSchema would drop them): what a router composes. */
export const SCHEMA_FILE = path.join(ROOT, 'schema.graphql');
/** The committed client SDL: the same API without federation's internals, for Relay's compiler and other client tools. */
export const CLIENT_SCHEMA_FILE = path.join(ROOT, 'schema.client.graphql');
/** The subgraph SDL of the last release: the contract clients rely on; breaking it needs `--accept-breaking`. */
export const RELEASED_SCHEMA_FILE = path.join(ROOT, 'schema.released.graphql');

/** The subgraph SDL as committed. */
export async function printConvoqlSchema(schema?: GraphQLSchema): Promise<string> {
  return `${printSubgraphSchema(schema ?? (await buildSchema())).trimEnd()}\n`;
}

/** The client SDL: no `_service`, `_entities`, `_Any`, `_Entity`, `_Service` or federation directives. */
export function printClientSchema(schema: GraphQLSchema): string {
  const federationInternal = (name: string) => name.startsWith('_') || name.startsWith('link__') || name.startsWith('federation__');
  const client = mapSchema(schema, {
    [MapperKind.TYPE]: (type) => (federationInternal(type.name) ? null : type),
    [MapperKind.ROOT_FIELD]: (field, fieldName) => (federationInternal(fieldName) ? null : field),
    [MapperKind.DIRECTIVE]: (directive) =>
      federationInternal(directive.name) || ['key', 'link', 'shareable'].includes(directive.name) ? null : directive,
  });
  return `${printSchema(client).trimEnd()}\n`;
}

/** Breaking changes from the released schema to `schema`, as lines; empty when there are none. */
export async function breakingChanges(schema: GraphQLSchema): Promise<string[]> {
  const released = buildSubgraphSchema(parse(await readFile(RELEASED_SCHEMA_FILE, 'utf8')));
  const changes = await diff(released, schema);
  return changes
    .filter((change) => change.criticality.level === CriticalityLevel.Breaking)
    .map((change) => `${change.path ?? ''}: ${change.message}`);
}

/** The two committed SDL files as the code prints them. */
async function printedSchemas(schema: GraphQLSchema): Promise<[string, string][]> {
  return [
    [SCHEMA_FILE, await printConvoqlSchema(schema)],
    [CLIENT_SCHEMA_FILE, printClientSchema(schema)],
  ];
}

/** `convoql schema emit`: writes schema.graphql and schema.client.graphql. */
export async function schemaEmit(): Promise<void> {
  for (const [file, sdl] of await printedSchemas(await buildSchema())) {
    await writeFile(file, sdl);
    console.log(`wrote ${path.basename(file)}`);
  }
}

/** `convoql schema check`: fails when either file differs from the code or when the code breaks the released schema. */
export async function schemaCheck(): Promise<void> {
  const schema = await buildSchema();
  for (const [file, sdl] of await printedSchemas(schema)) {
    if ((await readFile(file, 'utf8').catch(() => '')) !== sdl) {
      throw new UsageError(`${path.basename(file)} is out of date with the code: run \`npx convoql schema emit\` and commit the result.`);
    }
  }
  const breaking = await breakingChanges(schema);
  if (breaking.length > 0) {
    console.error(
      `The schema breaks the released one (schema.released.graphql) in ${breaking.length} place(s):\n  ${breaking.join('\n  ')}`,
    );
    throw new UsageError(
      'Add and deprecate instead; to release an intended break, run `npx convoql schema release --accept-breaking` and say why in the commit.',
    );
  }
  console.log('schema.graphql and schema.client.graphql are up to date, and nothing breaks the released schema.');
}

/** `convoql schema release`: makes the current schema the released one, refusing a breaking change unless accepted. */
export async function schemaRelease(options: { acceptBreaking?: boolean }): Promise<void> {
  const schema = await buildSchema();
  const breaking = await breakingChanges(schema);
  if (breaking.length > 0 && !options.acceptBreaking) {
    console.error(`Refusing to release ${breaking.length} breaking change(s):\n  ${breaking.join('\n  ')}`);
    throw new UsageError('Pass --accept-breaking to release them, and say why in the commit.');
  }
  await writeFile(RELEASED_SCHEMA_FILE, await printConvoqlSchema(schema));
  console.log(`wrote ${path.basename(RELEASED_SCHEMA_FILE)}${breaking.length ? ` with ${breaking.length} breaking change(s)` : ''}`);
}
