import { registerEnumType } from 'type-graphql';

/** Direction of an ordered list. */
export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}
registerEnumType(OrderDirection, {
  name: 'OrderDirection',
  description: 'Sort direction.',
  valuesConfig: { ASC: { description: 'Oldest or smallest first.' }, DESC: { description: 'Newest or largest first.' } },
});
