import 'reflect-metadata';
import { printSubgraphSchema } from '@apollo/subgraph';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSchema } from '../server/schema';

/** Where the committed subgraph SDL lives: the package root. */
export const SCHEMA_FILE = path.resolve(
  __dirname,
  __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
  'schema.graphql',
);

/** The subgraph SDL as committed: with @link and @key, which graphql's printSchema would drop. */
export async function printConvoqlSchema(): Promise<string> {
  return `${printSubgraphSchema(await buildSchema()).trimEnd()}\n`;
}

/** `npm run schema:emit` writes schema.graphql; `npm run schema:check` fails when it differs from the code. */
async function main(): Promise<void> {
  const sdl = await printConvoqlSchema();
  if (process.argv.includes('--check')) {
    const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
    if (committed !== sdl) {
      console.error('schema.graphql is out of date with the code: run `npm run schema:emit` and commit the result.');
      process.exit(1);
    }
    console.log('schema.graphql is up to date.');
    return;
  }
  await writeFile(SCHEMA_FILE, sdl);
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE) || SCHEMA_FILE}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`schema: ${(error as Error).message}`);
    process.exit(1);
  });
}
