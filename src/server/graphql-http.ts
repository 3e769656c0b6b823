import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP-level failure answered as GraphQL-shaped JSON: `{ errors: [{ message, extensions: { code } }] }`. */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Writes a GraphQL-shaped JSON error, never an HTML page or a stack trace. */
export function sendJsonError(response: ServerResponse, error: HttpError): void {
  const body = JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] });
  response.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // After a refused upload the rest of the body may still be on the way; closing ends it.
    ...(error.status === 413 ? { connection: 'close' } : {}),
  });
  response.end(body);
}

/**
 * Serves GraphQL requests with Apollo Server straight on node:http, as Apollo's Express integration does but
 * without Express's router, body parser and `res.send` (which hashes every response for an ETag no POST needs):
 * together they took 0.2 ms of CPU per request, a fifth of what a session detail costs. The body is read up to
 * `bodyLimitBytes` (413 PAYLOAD_TOO_LARGE beyond) and parsed when it is JSON (400 BAD_REQUEST when it is not
 * valid); Apollo checks the rest (method, content type, CSRF headers, the operation). The status follows the
 * negotiated media type (see statusForMediaType).
 */
export function graphqlRequestHandler<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: { bodyLimitBytes: number; context: (request: IncomingMessage) => Promise<TContext> },
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const httpGraphQLResponse = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: (request.method ?? 'GET').toUpperCase(),
        headers,
        search: query === -1 ? '' : url.slice(query),
        body: request.method === 'POST' ? await readBody(request, headers.get('content-type'), options.bodyLimitBytes) : undefined,
      },
      context: () => options.context(request),
    });
    await writeResponse(response, httpGraphQLResponse);
  };
}

async function writeResponse(response: ServerResponse, graphqlResponse: HTTPGraphQLResponse): Promise<void> {
  for (const [name, value] of graphqlResponse.headers) response.setHeader(name, value);
  response.statusCode = statusForMediaType(graphqlResponse);
  if (graphqlResponse.body.kind === 'complete') {
    response.setHeader('content-length', Buffer.byteLength(graphqlResponse.body.string));
    response.end(graphqlResponse.body.string);
    return;
  }
  for await (const chunk of graphqlResponse.body.asyncIterator) response.write(chunk);
  response.end();
}

/**
 * The HTTP status of a response, as the GraphQL-over-HTTP specification asks: a GraphQL response sent as
 * `application/json` (the client accepts it, any type, or sends no Accept) answers 200 whatever its errors
 * (unknown key, limits, parse and validation failures), so a federation gateway or any GraphQL client reads
 * the coded errors instead of an HTTP failure. Apollo's statuses stand when the client prefers
 * `application/graphql-response+json`, and for requests that are not GraphQL at all (Apollo's
 * `BAD_REQUEST`: wrong method, missing query, CSRF, unacceptable Accept). Headers such as Retry-After stay.
 */
function statusForMediaType(graphqlResponse: HTTPGraphQLResponse): number {
  const status = graphqlResponse.status ?? 200;
  if (status < 300 || graphqlResponse.body.kind !== 'complete') return status;
  if (!graphqlResponse.headers.get('content-type')?.startsWith('application/json')) return status;
  // Only error answers get here, a few hundred bytes each; a successful response is never parsed again.
  let body: unknown;
  try {
    body = JSON.parse(graphqlResponse.body.string);
  } catch {
    return status;
  }
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return status;
  const notGraphQL = errors.some((error: { extensions?: { code?: unknown } } | null) => error?.extensions?.code === 'BAD_REQUEST');
  return notGraphQL ? status : 200;
}

/** The request body: parsed when its content type is JSON, else as text for Apollo to refuse; undefined when empty. */
async function readBody(request: IncomingMessage, contentType: string | undefined, limitBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length']);
  if (declared > limitBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) return void chunks.push(chunk);
      // Stop collecting; the 413 closes the connection, which ends the upload.
      request.off('data', onData);
      reject(tooLarge());
    };
    request.on('data', onData);
    request.once('end', resolve);
    request.once('error', reject);
  });
  if (size === 0) return undefined;
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
  if (!isJson(contentType)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'The request body is not valid JSON.');
  }
}

function isJson(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.endsWith('+json') ?? false);
}

function tooLarge(): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than the server accepts.');
}
