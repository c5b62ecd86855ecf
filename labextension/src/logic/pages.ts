/** How the runs list is paged: the page sizes it asks for and the most runs it keeps. */

export interface IPageSizes {
  /** The first page: small, so the table shows at once. */
  first: number;
  /** Each later page: large, so the rest loads fast. */
  next: number;
  /** The most runs the panel keeps; more matching runs call for a narrower filter. */
  max: number;
}

export const DEFAULT_PAGES: IPageSizes = { first: 100, next: 5000, max: 100000 };

/** localStorage key of an override, e.g. `{"first": 20, "next": 50}` to watch paging on a small store. */
export const PAGES_KEY = 'notebook-tracker:runs-pages';

/**
 * The page sizes from an override's JSON text (absent, unreadable or bad values: the defaults,
 * value by value; each is a whole number from 1 to 50,000, the server's largest page, and at
 * most the default cap of runs kept).
 */
export function pageSizes(text: string | null): IPageSizes {
  let raw: unknown = null;
  try {
    raw = text ? JSON.parse(text) : null;
  } catch {
    raw = null;
  }
  const given = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const pick = (key: keyof IPageSizes, limit: number): number => {
    const v = given[key];
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= limit
      ? v
      : DEFAULT_PAGES[key];
  };
  return {
    first: pick('first', 50000),
    next: pick('next', 50000),
    max: pick('max', DEFAULT_PAGES.max)
  };
}

/** What the run count under the toolbar says. */
export interface ICountState {
  /** Runs loaded. */
  loaded: number;
  /** Still paging. */
  loading: boolean;
  /** Stopped at the most runs the panel keeps while more match. */
  truncated: boolean;
  /** Runs matching as the server counted them, null until known. */
  total: number | null;
  /** False when `total` is only a lower bound (the server stopped counting). */
  exact: boolean;
}

/** The count line: the count, a short hint after it, and the whole sentence (its tooltip). */
export interface ICountText {
  count: string;
  /** Cut first when the line is too narrow: the count always shows whole. */
  hint: string;
  title: string;
}

export function countText(c: ICountState): ICountText {
  const n = (x: number): string => x.toLocaleString();
  const runs = (x: number): string => (x === 1 ? 'run' : 'runs');
  // A poll may have added runs since the count.
  const total = c.total === null ? null : Math.max(c.total, c.loaded);
  const known = total !== null && (total > c.loaded || !c.exact);
  const of = known ? ` of ${c.exact ? '' : 'more than '}${n(total)}` : '';
  const counted = `${n(c.loaded)}${of} ${runs(known ? total : c.loaded)}`;
  if (c.loading) {
    return { count: counted, hint: 'loading…', title: `${counted} (loading…)` };
  }
  if (c.truncated) {
    const count = `First ${counted}`;
    return known
      ? { count, hint: 'narrow the filter to see the rest', title: `${count} in this order: narrow the filter to see the rest` }
      : { count, hint: 'more match: narrow the filter', title: `${count} in this order; more match: narrow the filter` };
  }
  return { count: counted, hint: '', title: counted };
}
