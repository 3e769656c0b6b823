/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  setupFiles: ['reflect-metadata'],
  // A migrated template database (TEST_DATABASE_URL) or PGlite dumps that each test file copies.
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  // Each test file gets its own database; two workers fit a 2-core machine.
  maxWorkers: 2,
  // Generous: hooks that run real LangGraph graphs or start PGlite clusters are slow on a loaded 2-core machine.
  testTimeout: 180_000,
};
