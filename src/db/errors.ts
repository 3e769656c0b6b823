/** Network-level failures that mean PostgreSQL cannot be reached (as opposed to a bad query). */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection terminated|connection timeout|Can't reach database|server closed the connection|Server has closed the connection|the database system is (starting up|shutting down)|terminating connection|timeout exceeded when trying to connect/i;
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);

/** True when an error (or its cause) says the database is down or unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') return false;
    const { code, message, cause, name } = current as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
    if (name === 'PrismaClientInitializationError') return true;
    if (typeof code === 'string' && (UNREACHABLE_PRISMA_CODES.has(code) || UNREACHABLE.test(code))) return true;
    if (typeof message === 'string' && UNREACHABLE.test(message)) return true;
    current = cause;
  }
  return false;
}
