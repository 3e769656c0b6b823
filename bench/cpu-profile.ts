// Tells where a server's CPU time went in a V8 CPU profile (taken through the server probe while one
// operation was under load): self time by package, and the hottest functions.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time shares of a .cpuprofile (JSON), as text headed by `title` and as data. */
export function summarizeCpuProfile(profileJson: string, title: string, requests: number): { text: string; summary: object } {
  const profile = JSON.parse(profileJson) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // The first delta is the profiler's own start-up; samples taken inside the probe are the profiler answering.
  const inProbe = (id: number) => stackOf(id, byId, parentOf).some((frame) => frame.url.includes('/bench/server-probe.js'));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    if (index > 0 && !inProbe(id)) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const total = [...selfMicros.values()].reduce((sum, micros) => sum + micros, 0);
  const idle = [...selfMicros]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((sum, [, micros]) => sum + micros, 0);
  const busy = total - idle;

  const byPackage = new Map<string, number>();
  const underPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const bucket = packageOf(frame);
    byPackage.set(bucket, (byPackage.get(bucket) ?? 0) + micros);
    for (const name of new Set(stackOf(id, byId, parentOf).map(packageOf))) underPackage.set(name, (underPackage.get(name) ?? 0) + micros);
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  }
  const share = (micros: number) => `${((100 * micros) / busy).toFixed(1)}%`.padStart(6);
  const top = <K>(map: Map<K, number>, count: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count);
  const lines = [
    `${title}: ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s, ${requests} requests, ${(busy / 1e3 / Math.max(1, requests)).toFixed(2)} ms/request; self time by package:`,
    ...top(byPackage, 10).map(([name, micros]) => `  ${share(micros)}  ${name}`),
    '  time with the package on the stack (inclusive; packages nest, so shares overlap):',
    ...top(underPackage, 12)
      .filter(([name]) => !name.startsWith('(') && name !== 'node:internals')
      .map(([name, micros]) => `  ${share(micros)}  ${name}`),
    '  hottest functions (self time):',
    ...top(byFunction, 15).map(([name, micros]) => `  ${share(micros)}  ${name}`),
  ];
  return {
    text: lines.join('\n'),
    summary: {
      busySeconds: busy / 1e6,
      requests,
      byPackage: Object.fromEntries(top(byPackage, 20).map(([name, micros]) => [name, micros / busy])),
      underPackage: Object.fromEntries(top(underPackage, 20).map(([name, micros]) => [name, micros / busy])),
      hottestFunctions: Object.fromEntries(top(byFunction, 40).map(([name, micros]) => [name, micros / busy])),
    },
  };
}

/** The frames from a node up to the root. */
function stackOf(id: number, byId: Map<number, ProfileNode>, parentOf: Map<number, number>): CallFrame[] {
  const frames: CallFrame[] = [];
  for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current))
    frames.push(byId.get(current)!.callFrame);
  return frames;
}

function packageOf(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (match) return match[1]!;
  if (frame.url.startsWith('node:')) return 'node:internals';
  if (frame.url.includes('/dist/src/')) return 'convoql src/';
  return shortUrl(frame.url);
}

function shortUrl(url: string): string {
  const nodeModules = url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return url.slice(nodeModules + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}
