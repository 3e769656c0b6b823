#!/usr/bin/env node
// The `convoql` command: compiles once when the sources changed (bin/build.js), then runs dist/src/cli/convoql.js.
'use strict';
const { ensureBuild } = require('./build');

if (!ensureBuild()) process.exit(1);
require('../dist/src/cli/convoql.js')
  .main(process.argv.slice(2))
  // A finished command exits even if a pool or timer lingers; standard output is flushed first.
  .then(() => process.stdout.write('', () => process.exit()));
