import { defineConfig } from 'prisma/config';
import { LANGGRAPH_TABLES } from './src/db/langgraph-tables';

// The Prisma CLI downloads a native schema engine at start-up, which these machines cannot reach.
// `prisma generate` never needs it; migrations run through the WebAssembly engine (src/db/migrations.ts).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  experimental: { externalTables: true },
  // LangGraph owns these tables: Prisma reads them but never diffs, alters or drops them.
  tables: { external: [...LANGGRAPH_TABLES] },
});
