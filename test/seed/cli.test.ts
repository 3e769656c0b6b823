import { SEED_DEFAULTS } from '../../prisma/seed';
import { parseSeedArgs } from '../../src/cli/seed';

describe('db:seed command line', () => {
  it('reads every option, in both --flag value and --flag=value forms', () => {
    const options = parseSeedArgs([
      '--tenants',
      '2',
      '--sessions=50000',
      '--messages-per-session',
      '10',
      '--conversations',
      '50',
      '--long-thread-steps=1000',
      '--seed',
      '9',
      '--now',
      '2026-03-01T00:00:00Z',
      '--reset',
    ]);
    expect(options).toEqual({
      tenants: 2,
      sessions: 50_000,
      messagesPerSession: 10,
      conversations: 50,
      longThreadSteps: 1000,
      seed: 9,
      now: new Date('2026-03-01T00:00:00Z'),
      reset: true,
    });
  });

  it('defaults to the demo size, anchored at the current time', () => {
    const before = Date.now();
    const options = parseSeedArgs([]);
    expect(options).toMatchObject({ ...SEED_DEFAULTS, now: expect.any(Date) });
    expect(options?.now.getTime()).toBeGreaterThanOrEqual(before);
    expect(parseSeedArgs(['--help'])).toBeNull();
  });

  it.each([
    [['--sessions'], 'Expected a value after --sessions'],
    [['--sessions', '--reset'], 'Expected a value after --sessions'],
    [['--sessions', '-5'], 'Expected --sessions to be a non-negative integer, received "-5"'],
    [['--tenants', '2.5'], 'Expected --tenants to be a non-negative integer, received "2.5"'],
    [['--tenants', '0'], 'Expected --tenants to be an integer from 1 to 1000, received 0'],
    [['--long-thread-steps', '4'], 'Expected --long-thread-steps to be 0, 3 or at least 5, received 4'],
    [['--now', 'yesterday'], 'Expected --now to be an ISO date, received "yesterday"'],
    [['--long-thread-steps', '5001'], 'Expected --long-thread-steps to be an integer from 0 to 5000, received 5001'],
    [['--reset=yes'], '--reset takes no value, received "--reset=yes"'],
    [['--session', '5'], 'Unknown option "--session"; run `npx convoql seed --help` for the list'],
  ])('rejects %j with a one-line error', (argv, message) => {
    expect(() => parseSeedArgs(argv)).toThrow(message);
  });
});
