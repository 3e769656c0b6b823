/**
 * LangGraph's checkpoint tables, schema-qualified as Prisma's `tables.external` filter expects:
 * Prisma reads them but never creates, alters or drops them in a generated migration.
 */
export const LANGGRAPH_TABLES: readonly string[] = Object.freeze([
  'public.checkpoints',
  'public.checkpoint_blobs',
  'public.checkpoint_writes',
  'public.checkpoint_migrations',
]);
