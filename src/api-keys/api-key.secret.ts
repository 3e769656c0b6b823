import { createHash, randomBytes } from 'node:crypto';

/** Creates a new random API key and the values stored for it (only the hash and a display prefix). */
export function generateApiKey(): { key: string; keyHash: string; prefix: string } {
  const key = `cq_${randomBytes(24).toString('base64url')}`;
  return { key, keyHash: hashApiKey(key), prefix: key.slice(0, 11) };
}

/** SHA-256 of a key, hex; keys are high-entropy random strings, so no slow hash is needed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
