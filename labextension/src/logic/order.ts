/** The server's `order_by` for a sort of the runs table, when the server can sort that way. */

import { ISort } from './types';

/** Newest first: the list's order until a header is clicked. */
export const DEFAULT_ORDER = ['attributes.start_time DESC'];

const ATTRIBUTES: Record<string, string> = {
  start_time: 'attributes.start_time',
  run_name: 'attributes.run_name',
  status: 'attributes.status'
};

/**
 * `order_by` for `sort`, or null when the server cannot order that way (duration, a key with a backtick): then only
 * the loaded runs are sorted, in the browser.
 */
export function serverOrder(sort: ISort): string[] | null {
  const by = sort.by;
  let field: string | undefined;
  if (by.kind === 'attr') {
    field = ATTRIBUTES[by.key];
  } else if (!by.key.includes('`')) {
    field = `${by.kind === 'metric' ? 'metrics' : 'params'}.\`${by.key}\``;
  }
  if (field === undefined) {
    return null;
  }
  const order = [`${field} ${sort.descending ? 'DESC' : 'ASC'}`];
  return field === 'attributes.start_time' ? order : [...order, ...DEFAULT_ORDER];
}
