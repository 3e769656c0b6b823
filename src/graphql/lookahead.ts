import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  isObjectType,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';

/**
 * Whether the operation selects the field at `path` below the field being resolved, e.g.
 * `['edges', 'node', 'messageCount']` under `sessions`. Fragments, inline fragments and @skip/@include are honoured.
 *
 * Root resolvers use it to fetch in one statement what nested fields would otherwise fetch one by one; a
 * nested resolver must still work alone (e.g. under `node(id)` or `_entities`), so this is only ever an
 * optimisation of how data is loaded, never of what is returned.
 */
export function selectsField(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  return selectedFieldNodes(info, path).length > 0;
}

/**
 * The arguments (coerced as graphql-js does, variables and defaults applied) of the field at `path` below the field
 * being resolved, when it is selected exactly once; null when it is not selected, selected more than once (aliases,
 * possibly with other arguments), or its arguments do not coerce (its own resolver reports that).
 */
export function selectedFieldArguments(info: GraphQLResolveInfo, path: readonly string[]): Record<string, unknown> | null {
  const nodes = selectedFieldNodes(info, path);
  if (nodes.length !== 1) return null;
  let type = getNamedType(info.returnType);
  let field;
  for (const name of path) {
    if (!isObjectType(type)) return null;
    field = type.getFields()[name];
    if (!field) return null;
    type = getNamedType(field.type);
  }
  try {
    return field ? getArgumentValues(field, nodes[0]!, info.variableValues) : null;
  } catch {
    return null;
  }
}

function selectedFieldNodes(info: GraphQLResolveInfo, path: readonly string[]): readonly FieldNode[] {
  let fields: readonly FieldNode[] = info.fieldNodes;
  for (const name of path) {
    fields = fields.flatMap((field) => (field.selectionSet ? childFields(field.selectionSet, name, info) : []));
    if (fields.length === 0) return [];
  }
  return fields;
}

function childFields(selectionSet: SelectionSetNode, name: string, info: GraphQLResolveInfo): FieldNode[] {
  const found: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (!isIncluded(selection, info)) continue;
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === name) found.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      found.push(...childFields(selection.selectionSet, name, info));
    } else {
      const fragment = info.fragments[selection.name.value];
      if (fragment) found.push(...childFields(fragment.selectionSet, name, info));
    }
  }
  return found;
}

function isIncluded(node: SelectionSetNode['selections'][number], info: GraphQLResolveInfo): boolean {
  if (!node.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
}
