import { SEED_DEFAULTS } from '../../prisma/seed';

/** The options of `convoql seed`, as its --help prints them. */
export const SEED_USAGE = `Usage: convoql seed [options]   (or npm run db:seed -- [options])

Migrates, then fills DATABASE_URL (or the embedded database in DATA_DIR) with generated demo data.

  --tenants N               tenants: acme, globex, initech, tenant-4, ... (default ${SEED_DEFAULTS.tenants})
  --sessions N              chat sessions per tenant (default ${SEED_DEFAULTS.sessions})
  --messages-per-session N  average messages per session (default ${SEED_DEFAULTS.messagesPerSession})
  --conversations N         agent threads per tenant (default ${SEED_DEFAULTS.conversations})
  --long-thread-steps N     one extra thread of N checkpoints in the first tenant; 0, 3 or >= 5 (default 0)
  --seed N                  PRNG seed; the same options give the same rows (default ${SEED_DEFAULTS.seed})
  --now ISO-DATE            instant the data leads up to (default: the current time)
  --reset                   truncate sessions, messages, conversations and the checkpoint tables first
  --help                    print this help`;
