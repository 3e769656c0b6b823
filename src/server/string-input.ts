import { Kind, visit, BREAK, type DocumentNode, type GraphQLError } from 'graphql';
import { BadUserInputError } from '../graphql/errors';

/** A NUL character (PostgreSQL text cannot hold it) or a UTF-16 surrogate without its pair (not Unicode text). */
const UNSAFE_CHARACTER = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const checkedDocuments = new WeakMap<DocumentNode, GraphQLError | null>();

/**
 * The BAD_USER_INPUT error for the first string of a request that is not storable Unicode text, in the document's
 * string literals or anywhere in the variables (keys included); null when every string is fine. Checked once for all
 * arguments before execution, so no resolver sends such a string to PostgreSQL, which refuses NUL in text.
 */
export function unsafeStringError(document: DocumentNode, variables: Readonly<Record<string, unknown>>): GraphQLError | null {
  let documentError = checkedDocuments.get(document);
  if (documentError === undefined) checkedDocuments.set(document, (documentError = unsafeLiteral(document)));
  return documentError ?? unsafeVariable(variables);
}

function unsafeLiteral(document: DocumentNode): GraphQLError | null {
  let error: GraphQLError | null = null;
  visit(document, {
    [Kind.STRING](node) {
      if (!UNSAFE_CHARACTER.test(node.value)) return undefined;
      error = unsafeStringInput(`the string ${JSON.stringify(shorten(node.value))} of the query`);
      return BREAK;
    },
  });
  return error;
}

/** Walks the variables without recursion, so deeply nested JSON cannot exhaust the stack. */
function unsafeVariable(variables: Readonly<Record<string, unknown>>): GraphQLError | null {
  const pending: [value: unknown, path: string][] = Object.entries(variables).map(([name, value]) => [value, `$${name}`]);
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (UNSAFE_CHARACTER.test(value)) return unsafeStringInput(`the value ${JSON.stringify(shorten(value))} at "${path}"`);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push([item, `${path}[${index}]`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (UNSAFE_CHARACTER.test(key)) return unsafeStringInput(`the key ${JSON.stringify(shorten(key))} at "${path}"`);
        pending.push([item, `${path}.${key}`]);
      }
    }
  }
  return null;
}

function unsafeStringInput(where: string): GraphQLError {
  return new BadUserInputError(`Strings must be Unicode text without NUL characters (U+0000) or unpaired surrogates; received ${where}.`);
}

function shorten(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}
