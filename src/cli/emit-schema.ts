import 'reflect-metadata';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { mapSchema, MapperKind } from '@graphql-tools/utils';
import { parse, printSchema, type GraphQLSchema } from 'graphql';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSchema } from '../server/schema';

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

/**
 * `npm run schema:emit` writes schema.graphql and schema.client.graphql; `npm run schema:check` fails when either
 * differs from the code or when the code breaks the released schema; `npm run schema:release` makes the current
 * schema the released one (refusing a breaking change unless `--accept-breaking`).
 */
async function main(): Promise<void> {
  const schema = await buildSchema();
  const files: [string, string][] = [
    [SCHEMA_FILE, await printConvoqlSchema(schema)],
    [CLIENT_SCHEMA_FILE, printClientSchema(schema)],
  ];
  const breaking = await breakingChanges(schema);
  const acceptBreaking = process.argv.includes('--accept-breaking');
  if (process.argv.includes('--check')) {
    for (const [file, sdl] of files) {
      if ((await readFile(file, 'utf8').catch(() => '')) !== sdl) {
        console.error(`${path.basename(file)} is out of date with the code: run \`npm run schema:emit\` and commit the result.`);
        process.exit(1);
      }
    }
    if (breaking.length > 0) {
      console.error(
        `The schema breaks the released one (schema.released.graphql) in ${breaking.length} place(s):\n  ${breaking.join('\n  ')}\n` +
          'Add and deprecate instead; to release an intended break, run `npm run schema:release -- --accept-breaking` and say why in the commit.',
      );
      process.exit(1);
    }
    console.log('schema.graphql and schema.client.graphql are up to date, and nothing breaks the released schema.');
    return;
  }
  if (process.argv.includes('--release')) {
    if (breaking.length > 0 && !acceptBreaking) {
      console.error(
        `Refusing to release ${breaking.length} breaking change(s):\n  ${breaking.join('\n  ')}\nPass --accept-breaking to release them.`,
      );
      process.exit(1);
    }
    await writeFile(RELEASED_SCHEMA_FILE, files[0]![1]);
    console.log(`wrote ${path.basename(RELEASED_SCHEMA_FILE)}${breaking.length ? ` with ${breaking.length} breaking change(s)` : ''}`);
    return;
  }
  for (const [file, sdl] of files) {
    await writeFile(file, sdl);
    console.log(`wrote ${path.basename(file)}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`schema: ${(error as Error).message}`);
    process.exit(1);
  });
}
