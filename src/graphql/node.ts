import { Field, ID, InterfaceType } from 'type-graphql';

/** Relay's Node: any object with a global ID that `node(id)` can fetch again. */
@InterfaceType({ description: 'An object with a global ID; fetch any of them again with `node(id:)`.' })
export abstract class Node {
  @Field(() => ID, { description: 'Opaque global ID, stable across requests.' })
  id!: string;
}
