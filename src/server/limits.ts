import type { ApolloServerPlugin, BaseContext, GraphQLResponse } from '@apollo/server';
import {
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  Lexer,
  SchemaMetaFieldDef,
  Source,
  TokenKind,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLFormattedError,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../graphql/connection';
import { QueryTooComplexError } from '../graphql/errors';

/** The limits every operation must stay within; `config.graphql` satisfies this shape. */
export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly maxCost: number;
}

/** What `measureOperation` found in one operation, with fragments expanded where they are spread. */
export interface QueryMeasurement {
  /** Fields on the longest path from the root: `{ sessions { totalCount } }` has depth 2. */
  readonly depth: number;
  /** Aliased fields. */
  readonly aliases: number;
  /**
   * Each field costs 1; a connection field multiplies the cost of its selection by its page size, and a list field
   * that takes a list of keys (`nodes(ids:)`, `_entities(representations:)`) by the number of keys.
   */
  readonly cost: number;
}

/** The value convoql puts in `extensions.cost` of every GraphQL response; `requested` is null when the operation could not be measured. */
export interface CostExtension {
  readonly requested: number | null;
  readonly limit: number;
}

/** Parser options that make graphql's parser give up after the token limit, so an oversized document costs little to reject. */
export function limitedParseOptions(limits: Pick<QueryLimits, 'maxTokens'>): ParseOptions {
  return { maxLexicalTokens: limits.maxTokens };
}

/** Counts a document's lexical tokens the way graphql's parser does for its token limit: comments and the end of input do not count. */
export function countTokens(source: string): number {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) count++;
  } catch {
    // A lexical error ends the count; the parser reports the error itself.
  }
  return count;
}

/** How a measurement read a variable: its value (a page size) or only its length (a list of keys). */
export type VariableUse = 'value' | 'length';

/** The number of keys an unknown list of keys is costed as: the most `nodes` and `_entities` accept. */
const MAX_LIST_KEYS = MAX_PAGE_SIZE;

/**
 * Measures an operation's depth, aliases and cost. A fragment is measured once and its figures are
 * used at every spread, so a document that spreads fragments exponentially is still measured in
 * linear time; a fragment spread inside itself counts as empty (validation rejects such cycles).
 * Selections on different types of an abstract field are added up, and @skip/@include are ignored,
 * so the figures are upper bounds. Costs multiply down the tree: a connection inside `nodes(ids:)`
 * costs its page size times the number of ids times its own selection.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> = {},
  onVariableRead?: (name: string, use: VariableUse) => void,
): QueryMeasurement {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const measuredFragments = new Map<string, QueryMeasurement>();
  const measuring = new Set<string>();
  const empty: QueryMeasurement = { depth: 0, aliases: 0, cost: 0 };

  const variableDefault = (name: string): ValueNode | undefined =>
    operation.variableDefinitions?.find((definition) => definition.variable.name.value === name)?.defaultValue;
  const variableValue = (name: string): unknown => {
    onVariableRead?.(name, 'value');
    if (variables[name] !== undefined) return variables[name];
    const defaultValue = variableDefault(name);
    return defaultValue ? literalValue(defaultValue) : undefined;
  };
  const literalValue = (value: ValueNode): unknown => {
    switch (value.kind) {
      case Kind.INT:
        return Number(value.value);
      case Kind.VARIABLE:
        return variableValue(value.name.value);
      default:
        return undefined;
    }
  };
  /** How many items a list argument holds; a single value is coerced to a list of one, and an unknown list counts as the maximum. */
  const listLength = (value: ValueNode | undefined): number => {
    switch (value?.kind) {
      case undefined:
      case Kind.NULL:
        return 0;
      case Kind.LIST:
        return value.values.length;
      case Kind.VARIABLE: {
        const name = value.name.value;
        onVariableRead?.(name, 'length');
        const given = variables[name];
        if (given === undefined) return variableDefault(name) ? listLength(variableDefault(name)) : MAX_LIST_KEYS;
        return Array.isArray(given) ? given.length : given === null ? 0 : 1;
      }
      default:
        return 1;
    }
  };
  /** How many times a field resolves its selection: the number of keys it is given, its page size, or 1. */
  const multiplier = (definition: GraphQLField<unknown, unknown> | undefined, field: FieldNode): number => {
    if (!definition) return 1;
    if (isListType(getNullableType(definition.type))) {
      // A list field that takes a list (`nodes(ids:)`, `_entities(representations:)`) returns an object per item.
      const keyArguments = definition.args.filter((argument) => isListType(getNullableType(argument.type)));
      if (keyArguments.length > 0) {
        return Math.max(
          ...keyArguments.map((argument) => listLength(field.arguments?.find((given) => given.name.value === argument.name)?.value)),
        );
      }
    }
    if (!definition.args.some((argument) => argument.name === 'first' || argument.name === 'last')) return 1;
    const sizes = (field.arguments ?? [])
      .filter((argument) => argument.name.value === 'first' || argument.name.value === 'last')
      .map((argument) => literalValue(argument.value))
      .filter((size): size is number => typeof size === 'number' && Number.isFinite(size));
    if (sizes.length === 0) return DEFAULT_PAGE_SIZE;
    // Sizes outside 1..MAX_PAGE_SIZE are rejected by the connection helper before any fetch.
    return Math.min(Math.max(0, Math.trunc(Math.max(...sizes))), MAX_PAGE_SIZE);
  };

  const measureSelectionSet = (selectionSet: SelectionSetNode, parentType: GraphQLNamedType | undefined): QueryMeasurement => {
    let depth = 0;
    let aliases = 0;
    let cost = 0;
    for (const selection of selectionSet.selections) {
      let measured: QueryMeasurement;
      switch (selection.kind) {
        case Kind.FIELD: {
          const definition = fieldDefinition(schema, parentType, selection.name.value);
          const child = selection.selectionSet
            ? measureSelectionSet(selection.selectionSet, definition && getNamedType(definition.type))
            : undefined;
          measured = {
            depth: 1 + (child?.depth ?? 0),
            aliases: (selection.alias ? 1 : 0) + (child?.aliases ?? 0),
            cost: 1 + (child ? multiplier(definition, selection) * child.cost : 0),
          };
          break;
        }
        case Kind.INLINE_FRAGMENT:
          measured = measureSelectionSet(
            selection.selectionSet,
            selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType,
          );
          break;
        case Kind.FRAGMENT_SPREAD:
          measured = measureFragment(selection.name.value);
          break;
      }
      depth = Math.max(depth, measured.depth);
      aliases += measured.aliases;
      cost += measured.cost;
    }
    return { depth, aliases, cost };
  };

  const measureFragment = (name: string): QueryMeasurement => {
    const known = measuredFragments.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || measuring.has(name)) return empty;
    measuring.add(name);
    const measured = measureSelectionSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
    measuring.delete(name);
    measuredFragments.set(name, measured);
    return measured;
  };

  const rootType = schema.getRootType(operation.operation) ?? undefined;
  return measureSelectionSet(operation.selectionSet, rootType);
}

/** The schema field a selection refers to, including the introspection fields; undefined when unknown. */
function fieldDefinition(
  schema: GraphQLSchema,
  parentType: GraphQLNamedType | undefined,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parentType && parentType === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return parentType && (isObjectType(parentType) || isInterfaceType(parentType)) ? parentType.getFields()[name] : undefined;
}

/** The first limit a measured operation exceeds, as the error to answer with; undefined when it fits. */
export function checkLimits(measured: QueryMeasurement, limits: QueryLimits): QueryTooComplexError | undefined {
  if (measured.depth > limits.maxDepth) {
    return new QueryTooComplexError(`Query depth ${measured.depth} exceeds the limit of ${limits.maxDepth}.`, {
      depth: measured.depth,
      maxDepth: limits.maxDepth,
    });
  }
  if (measured.aliases > limits.maxAliases) {
    return new QueryTooComplexError(`Query alias count ${measured.aliases} exceeds the limit of ${limits.maxAliases}.`, {
      aliases: measured.aliases,
      maxAliases: limits.maxAliases,
    });
  }
  if (measured.cost > limits.maxCost) {
    return new QueryTooComplexError(
      `Query cost ${measured.cost} exceeds the limit of ${limits.maxCost}. Each field costs 1, a connection multiplies ` +
        `the cost of its selection by its page size (\`first\` or \`last\`, default ${DEFAULT_PAGE_SIZE}) and \`nodes\` or ` +
        `\`_entities\` by the number of ids or representations; ask for smaller pages, fewer ids or fewer nested fields.`,
      { cost: measured.cost, maxCost: limits.maxCost },
    );
  }
  return undefined;
}

/**
 * Apollo Server plugin that rejects operations over the depth, alias, token or cost limit with
 * QUERY_TOO_COMPLEX (HTTP 400) before any resolver runs, and reports the cost in `extensions.cost`
 * of every response. Pair it with `limitedParseOptions` as the server's `parseOptions`.
 */
export function queryLimitsPlugin<TContext extends BaseContext>(limits: QueryLimits): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      let requested: number | null = null;
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const measured = measureRequest(schema, document, operation, request);
          requested = measured.cost;
          const exceeded = checkLimits(measured, limits);
          if (exceeded) throw exceeded;
        },
        async willSendResponse({ response, source, errors }) {
          // The parser stops at the token limit with a generic syntax error; answer with the limit instead.
          if (source !== undefined && errors?.some((error) => error.extensions.code === 'GRAPHQL_PARSE_FAILED')) {
            const tokens = countTokens(source);
            if (tokens > limits.maxTokens) {
              replaceErrors(response, [
                toFormattedError(
                  new QueryTooComplexError(`Query token count ${tokens} exceeds the limit of ${limits.maxTokens}.`, {
                    tokens,
                    maxTokens: limits.maxTokens,
                  }),
                ),
              ]);
            }
          }
          addExtension(response, 'cost', { requested, limit: limits.maxCost } satisfies CostExtension);
        },
      };
    },
  };
}

/**
 * `measureOperation` remembered per parsed operation (Apollo keeps one parsed document per query text) and per value
 * of the variables the measurement read, which are page sizes and the lengths of lists of keys: a dashboard's repeated
 * query is measured once.
 */
function cachedMeasurements(): typeof measureOperation {
  const byOperation = new WeakMap<
    OperationDefinitionNode,
    { variablesRead: Map<string, VariableUse>; byValues: Map<string, QueryMeasurement> }
  >();
  // A list of keys is keyed by its length only; an unset variable (its default applies) differs from null.
  const keyOf = (variablesRead: Map<string, VariableUse>, variables: Readonly<Record<string, unknown>>) =>
    JSON.stringify(
      [...variablesRead].map(([name, use]) => {
        const value = variables[name];
        if (value === undefined) return '(unset)';
        return use === 'length' && Array.isArray(value) ? { length: value.length } : value;
      }),
    );
  return (schema, document, operation, variables = {}) => {
    const known = byOperation.get(operation);
    const cached = known?.byValues.get(keyOf(known.variablesRead, variables));
    if (cached) return cached;
    const variablesRead = new Map<string, VariableUse>();
    const measured = measureOperation(schema, document, operation, variables, (name, use) => {
      // A variable read as a value is keyed by its value even if it is also read as a list.
      if (variablesRead.get(name) !== 'value') variablesRead.set(name, use);
    });
    const entry = known ?? { variablesRead, byValues: new Map<string, QueryMeasurement>() };
    if (!known) byOperation.set(operation, entry);
    // Page sizes take at most 101 values each (null and 1..100); clients rarely send more than a few.
    if (entry.byValues.size >= 1000) entry.byValues.clear();
    entry.byValues.set(keyOf(entry.variablesRead, variables), measured);
    return measured;
  };
}

/** The measurements of every server in this process; entries go with their parsed operations. */
const measureOperationCached = cachedMeasurements();

const measuredRequests = new WeakMap<object, QueryMeasurement>();

/**
 * The measurement of one request's operation, taken once for every plugin that needs it (the limits, then
 * fairness): later calls for the same request object get the same figures without looking them up again.
 */
export function measureRequest(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  request: { readonly variables?: Readonly<Record<string, unknown>> },
): QueryMeasurement {
  let measured = measuredRequests.get(request);
  if (!measured) measuredRequests.set(request, (measured = measureOperationCached(schema, document, operation, request.variables ?? {})));
  return measured;
}

/** The error as Apollo would send it: message and extensions without the HTTP status, which only sets the response status. */
function toFormattedError(error: QueryTooComplexError): GraphQLFormattedError {
  const { http: _http, ...extensions } = error.extensions;
  return { message: error.message, extensions };
}

function replaceErrors(response: GraphQLResponse, errors: GraphQLFormattedError[]): void {
  if (response.body.kind === 'single') response.body.singleResult = { ...response.body.singleResult, errors };
}

/** Sets `extensions[name]`, merged into what another plugin already put there (the fairness plugin adds to `cost`). */
export function addExtension(response: GraphQLResponse, name: string, value: object): void {
  const body = response.body;
  const merge = (extensions: Record<string, unknown> | undefined) => ({
    ...extensions,
    [name]: { ...(extensions?.[name] as Record<string, unknown> | undefined), ...value },
  });
  if (body.kind === 'single') body.singleResult = { ...body.singleResult, extensions: merge(body.singleResult.extensions) };
  else body.initialResult = { ...body.initialResult, extensions: merge(body.initialResult.extensions) };
}
