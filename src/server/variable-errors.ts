import { GraphQLError, Kind, visit, type ASTNode, type DocumentNode, type OperationDefinitionNode, type ValueNode } from 'graphql';

/**
 * graphql-js refuses a variable value its type cannot coerce (a metadata filter that is not an object, an unknown enum
 * value) with the offending path only in its message, e.g. `Variable "$f" got invalid value 5 at "f.metadata"`. These
 * errors are rebuilt as BAD_USER_INPUT with `extensions.argument`, the path of the offending input field from the
 * field argument the variable is passed to (`filter.metadata`), as the resolvers' own checks name it. The message,
 * location and cause stay graphql-js's.
 */
export function withArgumentPaths(
  errors: readonly GraphQLError[],
  document: DocumentNode,
  definition: OperationDefinitionNode,
): GraphQLError[] {
  const uses = variableUses(document, definition);
  return errors.map((error) => {
    const match = VARIABLE_ERROR.exec(error.message);
    const argument = match ? uses.get(match[1]!) : undefined;
    if (!match || argument === undefined || error.extensions.code !== undefined) return error;
    const within = lastPathOf(error.message);
    const path = within && within[1] === match[1] ? within[2]!.replace(/\[\d+\]/g, '') : '';
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      originalError: error.originalError,
      extensions: { ...error.extensions, code: 'BAD_USER_INPUT', argument: `${argument}${path}` },
    });
  });
}

/** `Variable "$name" …`: every variable coercion error of graphql-js starts so. */
const VARIABLE_ERROR = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" /;
/** ` at "name.field[0].field"; ` at the start of a string: where in the variable's value the coercion failed. */
const AT_PATH = /^ at "([_A-Za-z][_0-9A-Za-z]*)((?:\.[_A-Za-z][_0-9A-Za-z]*|\[\d+\])*)"; /;

/**
 * The last ` at "…"; ` of the message, found by searching backwards and matching each candidate where it starts: the
 * message holds the client's value (up to the body limit), and a pattern scanning it for its last match backtracked
 * for minutes on a long string, with the event loop blocked.
 */
function lastPathOf(message: string): RegExpExecArray | null {
  // graphql-js writes the path after the value: a value full of look-alikes only costs up to this many tries.
  let tries = 100;
  for (let at = message.lastIndexOf(' at "'); at >= 0 && tries-- > 0; at = at === 0 ? -1 : message.lastIndexOf(' at "', at - 1)) {
    const found = AT_PATH.exec(message.slice(at, at + 1_000));
    if (found) return found;
  }
  return null;
}

/**
 * The argument path each variable of the operation is passed to (`filter` for `filter: $f`, `filter.metadata` for
 * `filter: { metadata: $m }`); a variable passed to several arguments names none, as it is ambiguous.
 */
function variableUses(document: DocumentNode, definition: OperationDefinitionNode): Map<string, string | undefined> {
  const uses = new Map<string, string | undefined>();
  const record = (name: string, path: string) => uses.set(name, uses.has(name) && uses.get(name) !== path ? undefined : path);
  const walkValue = (value: ValueNode, path: string): void => {
    if (value.kind === Kind.VARIABLE) record(value.name.value, path);
    else if (value.kind === Kind.OBJECT) for (const field of value.fields) walkValue(field.value, `${path}.${field.name.value}`);
    else if (value.kind === Kind.LIST) for (const item of value.values) walkValue(item, path);
  };
  const nodes: ASTNode[] = [definition, ...document.definitions.filter((node) => node.kind === Kind.FRAGMENT_DEFINITION)];
  for (const node of nodes) {
    visit(node, {
      VariableDefinition: () => false,
      Argument(argument) {
        walkValue(argument.value, argument.name.value);
        return false;
      },
    });
  }
  return uses;
}
