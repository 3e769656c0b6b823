// The bench servers' HTTP plumbing, shared by the lean baseline and the floor server (bench/floor/server.ts) so that
// both read requests and write responses alike.
import type { IncomingMessage, ServerResponse } from 'node:http';

const BODY_LIMIT_BYTES = 100 * 1024;

/** The request body as text; rejects past 100 KB. */
export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Answers `payload` as JSON with its length. */
export function send(response: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
