/** Query strings of the native API. */

export interface IRunsQuery {
  experimentIds?: string[];
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string | null;
  /** false: runs without their tags (the list needs none; details load the run). */
  tags?: boolean;
  /** Also count every matching run (`total`): a scan of them, so only for long lists. */
  count?: boolean;
}

export function runsQuery(q: IRunsQuery): string {
  const p = new URLSearchParams();
  if (q.experimentIds && q.experimentIds.length) {
    p.set('experiment_ids', q.experimentIds.join(','));
  }
  if (q.filter && q.filter.trim()) {
    p.set('filter', q.filter.trim());
  }
  for (const o of q.orderBy ?? []) {
    p.append('order_by', o);
  }
  if ((q.orderBy ?? []).some(o => o.startsWith('params.'))) {
    // Numbers by value, as the browser sorts a loaded list: a list cut (ordered by the
    // server) keeps the order it had when it was whole.
    p.set('param_order', 'numbers');
  }
  if (q.maxResults) {
    p.set('max_results', String(q.maxResults));
  }
  if (q.pageToken) {
    p.set('page_token', q.pageToken);
  }
  if (q.tags === false) {
    p.set('tags', 'none');
  }
  if (q.count) {
    p.set('count', 'true');
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The server's error message from a JSON error body, or a fallback. */
export function errorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.message === 'string' && b.message) {
      return b.message;
    }
    if (typeof b.reason === 'string' && b.reason) {
      return b.reason;
    }
  }
  if (typeof body === 'string' && body.trim() && !body.trim().startsWith('<')) {
    return body.trim();
  }
  return fallback;
}
