import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/**
 * Creates the process logger: JSON by default, pretty on a terminal; credentials are redacted. A destination
 * (tests read the lines they cause) receives JSON lines instead of stdout.
 */
export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  const pretty = !destination && (config.log.format === 'pretty' || (config.log.format === 'auto' && process.stdout.isTTY === true));
  const options: pino.LoggerOptions = {
    level: config.log.level,
    base: { service: 'convoql' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]', 'apiKey'],
      censor: '[redacted]',
    },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } }
      : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
