#!/usr/bin/env node
// Compiles convoql (tsc -p tsconfig.build.json into dist/) only when a source is newer than the last build, so a
// command-line call or `npm start` does not pay 20-40 s of tsc when nothing changed. Run at install (postinstall),
// by bin/convoql.js before each command, and by `npm start`. `node bin/build.js --force` always compiles;
// `--at-install` (postinstall) succeeds without compiling where typescript is not installed (npm ci --omit=dev).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** Written after a successful build; its mtime is when the sources were last compiled. */
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
/** What tsconfig.build.json compiles, and the configuration that shapes the output. */
const SOURCES = ['src', 'prisma', 'bench', 'tsconfig.json', 'tsconfig.build.json'];
/** Lock held while one process compiles; others (two test workers, two terminals) wait for it. */
const LOCK = path.join(ROOT, 'dist', '.build-lock');

/** The newest modification time (ms) of a source file under `entry`. */
function newestMtime(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return /\.(ts|json|prisma)$/.test(entry) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const child of fs.readdirSync(entry)) {
    if (child === 'node_modules' || child === 'results') continue;
    newest = Math.max(newest, newestMtime(path.join(entry, child)));
  }
  return newest;
}

/** True when dist/ holds a build at least as new as every source. */
function isCurrent() {
  let built;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  return SOURCES.every((entry) => newestMtime(path.join(ROOT, entry)) <= built);
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Holds the build lock while `work` runs; a lock older than 5 minutes is from a killed build and is taken over. */
function withLock(work) {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > 5 * 60_000) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Removed meanwhile by the build that held it.
      }
      sleep(200);
    }
  }
  try {
    return work();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Compiles when dist/ is older than the sources (or always with `force`); returns false when tsc failed. */
function ensureBuild({ force = false, quiet = false, atInstall = false } = {}) {
  if (!force && isCurrent()) return true;
  return withLock(() => {
    if (!force && isCurrent()) return true; // built by the process that held the lock
    const started = Date.now();
    // Taken before compiling: a source saved during the build is then newer than the stamp and compiled next time.
    const stampTime = new Date();
    if (!quiet) process.stderr.write('convoql: compiling (sources changed since the last build)…\n');
    let tsc;
    try {
      tsc = require.resolve('typescript/bin/tsc');
    } catch {
      // An install without devDependencies has no compiler: it runs a dist/ built elsewhere.
      process.stderr.write('convoql: typescript is not installed, so dist/ cannot be compiled here; install with devDependencies.\n');
      return atInstall;
    }
    const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) {
      process.stderr.write(result.stdout);
      process.stderr.write(result.stderr);
      process.stderr.write('convoql: the build failed (above); fix the errors, or run `npm run build` to see them again.\n');
      return false;
    }
    fs.writeFileSync(STAMP, `${stampTime.toISOString()}\n`);
    fs.utimesSync(STAMP, stampTime, stampTime);
    if (!quiet) process.stderr.write(`convoql: compiled in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return true;
  });
}

module.exports = { ensureBuild, isCurrent };

if (require.main === module) {
  const ok = ensureBuild({ force: process.argv.includes('--force'), atInstall: process.argv.includes('--at-install') });
  process.exitCode = ok ? 0 : 1;
}
