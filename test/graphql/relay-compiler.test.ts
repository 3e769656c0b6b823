// Relay's compiler (the relay-compiler package, a binary inside it) validates every operation of examples/dashboard/
// against the client SDL, schema.client.graphql, with its own rules beyond the GraphQL specification's (e.g. it
// refuses a non-null variable with a default). Relay reads operations from JavaScript files named after them and wants
// a query named <ModuleName>Query, so each operation is written to <Name>.js as <Name>Query; nothing else changes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';

const ROOT = path.join(__dirname, '../..');
const RELAY_COMPILER = path.join(ROOT, 'node_modules/.bin/relay-compiler');

/** Writes a Relay project of these operations over the client SDL, runs the compiler on it, and returns its verdict. */
function compile(operations: readonly OperationDefinitionNode[]): { status: number | null; output: string } {
  const project = mkdtempSync(path.join(tmpdir(), 'convoql-relay-'));
  try {
    mkdirSync(path.join(project, 'src'));
    writeFileSync(path.join(project, 'schema.graphql'), readFileSync(path.join(ROOT, 'schema.client.graphql')));
    writeFileSync(
      path.join(project, 'relay.config.json'),
      JSON.stringify({ src: './src', schema: './schema.graphql', language: 'javascript' }),
    );
    for (const operation of operations) {
      const name = operation.name!.value;
      const renamed = { ...operation, name: { ...operation.name!, value: `${name}Query` } };
      writeFileSync(path.join(project, 'src', `${name}.js`), `graphql\`\n${print(renamed)}\n\`;\n`);
    }
    const result = spawnSync(RELAY_COMPILER, ['--noWatchman', '--output', 'quiet-with-errors'], { cwd: project, encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

function dashboardOperations(): OperationDefinitionNode[] {
  const folder = path.join(ROOT, 'examples/dashboard');
  return readdirSync(folder)
    .filter((name) => name.endsWith('.graphql'))
    .flatMap((name) => parse(readFileSync(path.join(folder, name), 'utf8')).definitions)
    .filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
}

it("compiles every dashboard operation with Relay's compiler against the client SDL", () => {
  const operations = dashboardOperations();
  expect(operations.map((operation) => operation.name?.value)).toEqual(
    expect.arrayContaining(['SessionsTable', 'SearchMessages', 'SearchConversations', 'UsageTiles']),
  );
  expect(compile(operations)).toEqual({ status: 0, output: '' });
});

it("fails on what Relay's compiler refuses: a non-null variable with a default", () => {
  const [usage] = parse('query UsageTiles($groupBy: UsageGroupBy! = DAY) { usage(groupBy: $groupBy) { from } }').definitions;
  const result = compile([usage as OperationDefinitionNode]);
  expect(result.status).not.toBe(0);
  expect(result.output).toContain("Non-nullable variable 'groupBy' has a default value");
});
