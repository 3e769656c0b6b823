import path from 'node:path';
import { createMigration, defaultMigrationPaths } from '../db/migrations';

// `npm run db:migration:create -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
// with the difference between the existing migrations and prisma/schema.prisma.
async function main(argv: readonly string[]): Promise<void> {
  const name = argv.join('_');
  if (name.trim() === '') {
    throw new Error('Expected a migration name, e.g. `npm run db:migration:create -- add_tags`, received none');
  }
  const { migrationsDir } = defaultMigrationPaths();
  const created = await createMigration(name);
  if (created === null) {
    console.log('No changes: the migrations already match prisma/schema.prisma.');
    return;
  }
  const file = path.join(migrationsDir, created, 'migration.sql');
  console.log(`Created ${path.relative(process.cwd(), file) || file}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`db:migration:create failed: ${oneLine(error)}`);
  process.exitCode = 1;
});

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}
