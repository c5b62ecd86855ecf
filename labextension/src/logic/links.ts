/**
 * Links that open a run: the run card's `#notebook-tracker:run=<id>` fragment and the lab URL
 * `?nt-run=<id>` (where MLflow's "View run at" link for a Jupyter-hosted server leads).
 */

const FRAGMENT = '#notebook-tracker:run=';
export const RUN_QUERY = 'nt-run';
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

function valid(id: string | null | undefined): string | null {
  const v = (id ?? '').trim();
  return RUN_ID.test(v) ? v : null;
}

/** The run id an `href` points at, or null when it is not a run link. */
export function runIdFromHref(href: string | null | undefined): string | null {
  if (!href) {
    return null;
  }
  const at = href.indexOf(FRAGMENT);
  if (at >= 0) {
    let id = href.slice(at + FRAGMENT.length);
    try {
      id = decodeURIComponent(id);
    } catch {
      return null;
    }
    return valid(id);
  }
  const q = href.indexOf('?');
  if (q >= 0) {
    return runIdFromSearch(href.slice(q).split('#')[0]);
  }
  return null;
}

/** The run id of a location's query string (`?nt-run=<id>`), or null. */
export function runIdFromSearch(search: string): string | null {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  return valid(params.get(RUN_QUERY));
}

/** The query string without `nt-run`, to put back in the address bar once handled. */
export function withoutRunQuery(search: string): string {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  params.delete(RUN_QUERY);
  const rest = params.toString();
  return rest ? `?${rest}` : '';
}
