// CPU time where a request's work happens besides the server process: the PostgreSQL backends serving one server
// (found by the application_name each server connects with) and, as a noise figure, every other process of the
// machine. Read from /proc, so only for a PostgreSQL on this machine; null elsewhere (the embedded PGlite runs in a
// child process of its own, which the benchmark does not attribute).
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import type { BenchDatabase } from './dataset';

/** USER_HZ of /proc; 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** The connection string a server under test uses: the benchmark's, with the server's application_name. */
export function connectionStringFor(database: BenchDatabase, applicationName: string): string {
  if (database.kind !== 'postgresql') return database.url;
  const url = new URL(database.url);
  url.searchParams.set('application_name', applicationName);
  return url.toString();
}

/** CPU ms (user + system) of each backend pid serving `applicationName`, or null when unavailable. */
export async function backendCpu(database: BenchDatabase, applicationName: string): Promise<Map<number, number> | null> {
  if (database.kind !== 'postgresql') return null;
  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [applicationName],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = processCpuMs(pid);
      if (ms !== null) cpu.set(pid, ms);
    }
    return cpu;
  } finally {
    await client.end();
  }
}

/** CPU the backends used between two samples: a backend that started meanwhile counts from zero; one that ended is lost. */
export function backendCpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (before === null || after === null) return null;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** utime + stime of /proc/<pid>/stat in ms, or null when unreadable. */
export function processCpuMs(pid: number): number | null {
  try {
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** CPU ms every process of the machine has used (all cores: user, nice, system, irq, softirq, steal), or null. */
export function machineCpuMs(): number | null {
  try {
    const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .map(Number);
    return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
