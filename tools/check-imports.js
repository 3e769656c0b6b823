#!/usr/bin/env node
// Keeps src/'s import graph layered and free of circles (type-only imports included): prints every import from a
// lower layer to a higher one and every circle, and exits 1 when there is any. Run by `npm run check`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SRC = path.join(__dirname, '..', 'src');
/** Layers from the ground up; a file may import its own layer and those below. */
const LAYERS = [
  { name: 'ground', paths: ['config.ts', 'logger.ts', 'generated/'] },
  { name: 'db', paths: ['db/'] },
  { name: 'core', paths: ['core/', 'graphql/'] },
  { name: 'features', paths: ['sessions/', 'conversations/', 'replay/', 'analytics/', 'api-keys/', 'live/'] },
  { name: 'composition root', paths: ['server/', 'cli/', 'main.ts'] },
];

function layerOf(file) {
  const index = LAYERS.findIndex((layer) => layer.paths.some((prefix) => file === prefix || file.startsWith(prefix)));
  if (index === -1) throw new Error(`src/${file} is in no layer; add its folder to LAYERS in tools/check-imports.js`);
  return index;
}

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full)] : [];
  });
}

function importsOf(file) {
  const text = fs.readFileSync(path.join(SRC, file), 'utf8');
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|\ndeclare module '(\.[^']+)'/g),
  ];
  return specifiers
    .map((match) => match[1] ?? match[2] ?? match[3])
    .map((specifier) => path.relative(SRC, path.resolve(SRC, path.dirname(file), specifier)))
    .filter((target) => !target.startsWith('..') && !target.startsWith('generated'))
    .map((target) => (fs.existsSync(path.join(SRC, `${target}.ts`)) ? `${target}.ts` : path.join(target, 'index.ts')));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const problems = [];
for (const [file, targets] of graph) {
  for (const target of targets) {
    if (layerOf(target) > layerOf(file)) {
      problems.push(`layer: src/${file} (${LAYERS[layerOf(file)].name}) imports src/${target} (${LAYERS[layerOf(target)].name})`);
    }
  }
}
// Circles: a depth-first search that reports each back edge's circle once.
const state = new Map();
const stack = [];
const visit = (file) => {
  state.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (state.get(target) === 'open')
      problems.push(`circle: ${[...stack.slice(stack.indexOf(target)), target].map((f) => `src/${f}`).join(' > ')}`);
    else if (!state.has(target)) visit(target);
  }
  stack.pop();
  state.set(file, 'done');
};
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`imports: ${files.length} files in ${LAYERS.length} layers, no circle, no import from a lower layer to a higher one`);
