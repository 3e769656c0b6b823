import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { describeCliError } from './cli-support';
import { SEED_USAGE } from './seed-usage';

const DATABASE_NOTE = `
Every command works on DATABASE_URL, or on the embedded PostgreSQL in DATA_DIR (default ./.data) when it is unset;
configuration comes from the same environment variables as the server (README, Configuration).`;

/** The `convoql` command and its subcommands; `--help` on each. */
export function buildProgram(): Command {
  const program = new Command('convoql')
    .description('convoql: the GraphQL API over chat sessions and LangGraph threads, and its tools.')
    .addHelpText('after', DATABASE_NOTE)
    .showSuggestionAfterError()
    .exitOverride();

  program
    .command('migrate')
    .description('Apply pending migrations to the database (the server does it itself only with --migrate or on the embedded default).')
    .action(async () => (await import('./migrate')).migrate());

  program
    .command('seed')
    .description('Migrate, then fill the database with generated demo or benchmark data (see --help).')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .configureHelp({ formatHelp: () => `${SEED_USAGE}\n` })
    .action(async (_options: unknown, command: Command) => (await import('./seed')).seed(command.args));

  const apikey = program.command('apikey').description('Create, list and revoke API keys.');
  apikey
    .command('create')
    .description('Create an API key and print it once (it is stored only as a hash).')
    .option('--tenant <id>', 'the tenant the key acts for')
    .option('--new-tenant <display name>', 'create the --tenant first, with this display name')
    .option('--admin', 'a key of no tenant that may act for any (sent with x-tenant-id)')
    .option('--scopes <list>', 'comma-separated: read, write, admin (default read; admin for --admin)')
    .option('--name <name>', 'a name to recognise the key by', 'unnamed')
    .action(async (options: { tenant?: string; newTenant?: string; admin?: boolean; scopes?: string; name?: string }) =>
      (await import('./apikey')).apikeyCreate(options),
    );
  apikey
    .command('list')
    .description('List API keys, newest first (never the keys themselves).')
    .option('--tenant <id>', 'only the keys of this tenant')
    .action(async (options: { tenant?: string }) => (await import('./apikey')).apikeyList(options));
  apikey
    .command('revoke')
    .description('Revoke a key by its id or display prefix; servers refuse it at once with REDIS_URL, else within 30 seconds.')
    .argument('<id-or-prefix>', 'as `convoql apikey list` shows it')
    .action(async (idOrPrefix: string) => (await import('./apikey')).apikeyRevoke(idOrPrefix));

  const tenant = program.command('tenant').description('Create and list tenants.');
  tenant
    .command('create')
    .description('Create a tenant.')
    .argument('<id>', 'lower-case letters, digits, "-" and "_": what keys and x-tenant-id name')
    .option('--name <display name>', 'its display name (default: the id)')
    .action(async (id: string, options: { name?: string }) => (await import('./tenant')).tenantCreate(id, options));
  tenant
    .command('list')
    .description('List tenants with their numbers of sessions and active keys.')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => (await import('./tenant')).tenantList(options));

  const conversations = program.command('conversations').description('LangGraph threads.');
  conversations
    .command('sync')
    .description(
      'Discover LangGraph threads in the checkpoint tables, attach them to tenants (CONVERSATION_TENANT_METADATA_KEY, ' +
        'CONVERSATION_DEFAULT_TENANT) and refresh those that changed; safe while servers run the same sync.',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: { json?: boolean }) => (await import('./conversations')).conversationsSync(options));

  program
    .command('import')
    .description('Import sessions and their messages from NDJSON (examples/import.ndjson); idempotent, so a rerun changes nothing.')
    .argument('[file]', 'the NDJSON file; standard input when absent or "-"')
    .requiredOption('--tenant <id>', 'the tenant the sessions belong to')
    .option('--strict', 'stop at the first bad line (by default it is reported and the rest goes on)')
    .addOption(new Option('--progress', 'show progress (default: when standard error is a terminal)'))
    .option('--no-progress', 'never show progress')
    .action(async (file: string | undefined, options: { tenant: string; strict?: boolean; progress?: boolean }) =>
      (await import('./import')).importCommand(file, options),
    );

  program
    .command('export')
    .description("Write a tenant's sessions and their messages as NDJSON (the import format), oldest first.")
    .requiredOption('--tenant <id>', 'the tenant whose sessions to export')
    .option('--from <instant>', 'sessions started at or after this ISO instant')
    .option('--to <instant>', 'sessions started before this ISO instant')
    .option('--filter <json>', 'a SessionFilter as JSON, as the sessions query takes it, e.g. \'{"status":["CLOSED"]}\'')
    .option('--output <file>', 'write to this file instead of standard output')
    .action(async (options: { tenant: string; from?: string; to?: string; filter?: string; output?: string }) =>
      (await import('./export')).exportCommand(options),
    );

  const schema = program.command('schema').description('The GraphQL schema files (schema.graphql, schema.client.graphql).');
  schema
    .command('emit')
    .description('Write schema.graphql and schema.client.graphql from the code.')
    .action(async () => (await import('./emit-schema')).schemaEmit());
  schema
    .command('check')
    .description('Fail when the schema files differ from the code, or the code breaks schema.released.graphql.')
    .action(async () => (await import('./emit-schema')).schemaCheck());
  schema
    .command('release')
    .description('Make the current schema the released contract (schema.released.graphql).')
    .option('--accept-breaking', 'release even though it breaks the released schema (say why in the commit)')
    .action(async (options: { acceptBreaking?: boolean }) => (await import('./emit-schema')).schemaRelease(options));

  // Each command's module loads only when it runs, so `--help` answers at once.
  // Commander's errors (unknown option, missing argument) on one line that says where help is.
  const configure = (command: Command, path: string) => {
    command.exitOverride().configureOutput({
      outputError: (text, write) =>
        write(
          `${path}: ${text
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')
            .trim()}; see \`npx ${path} --help\`\n`,
        ),
    });
    for (const child of command.commands) configure(child, `${path} ${child.name()}`);
  };
  configure(program, 'convoql');
  return program;
}

/**
 * Runs the command line (bin/convoql.js calls it); a failure prints one line on standard error and sets exit code 1.
 * Resolves when the command is done; the caller exits then, so that no pool or timer keeps a finished command alive.
 */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has printed its error line already.
      process.exitCode = error.exitCode;
      return;
    }
    const command = argv
      .filter((arg) => !arg.startsWith('-'))
      .slice(0, 2)
      .join(' ');
    process.stderr.write(`${describeCliError(error, command)}\n`);
    process.exitCode = 1;
  }
}
