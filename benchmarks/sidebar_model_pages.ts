/**
 * The browser's work per page of 5,000 runs while 100,000 stream in: the sidebar's RunsModel
 * folding the page in, and the sorted runs, tree rows and keys the view then reads (no
 * network: an in-memory server serves copies of the pages in the list's order).
 *
 *   cd labextension && node_modules/.bin/esbuild ../benchmarks/sidebar_model_pages.ts \
 *     --bundle --platform=node --outfile=/tmp/sidebar_model_pages.js --log-level=warning
 *   node /tmp/sidebar_model_pages.js start_time   # or acc, name: the list's sort
 *
 * Prints the median and longest time from one page's arrival to the next page's request (ms).
 * For a before/after, bundle it from a worktree of the older commit as well.
 */
import { RunsModel } from '../labextension/src/model';
(globalThis as any).window = globalThis; (globalThis as any).document = { hidden: false };
const N = 100000, PAGE = 5000;
function mk(i: number) {
  return { run_id: 'r' + String(i).padStart(7, '0'), run_name: 'run-' + ((i * 7919) % N), experiment_id: '1', status: 'FINISHED',
    start_time: 10_000_000 - i, end_time: 10_000_000 - i + 50, user_id: 'u', artifact_uri: '', lifecycle_stage: 'active',
    parent_run_id: i % 100 === 5 ? 'r' + String(i - 5).padStart(7, '0') : null,
    params: { lr: String(0.001 * (i % 10)), optimizer: i % 2 ? 'adam' : 'sgd', layers: String(i % 5), batch: '32' },
    metrics: { acc: (i * 7919 % 1000) / 1000, loss: 1 - (i * 7919 % 1000) / 1000, f1: 0.5 }, tags: {} } as any;
}
const mode = process.argv[2] ?? 'start_time';
let all = Array.from({ length: N }, (_, i) => mk(i));
if (mode === 'acc') all.sort((a, b) => b.metrics.acc - a.metrics.acc || b.start_time - a.start_time);
if (mode === 'name') all.sort((a, b) => (a.run_name < b.run_name ? -1 : a.run_name > b.run_name ? 1 : b.start_time - a.start_time));
const api = {
  experiments: async () => [],
  runs: async (q: any) => {
    const start = q.pageToken ? Number(q.pageToken) : 0;
    const runs = all.slice(start, start + q.maxResults).map(r => JSON.parse(JSON.stringify(r)));
    const end = start + runs.length;
    return { runs, next_page_token: end < N ? String(end) : null, total: N };
  }
} as any;
(async () => {
  const m = new RunsModel(api, 1e9);
  if (mode === 'acc') m.setSort({ by: { kind: 'metric', key: 'acc' }, descending: true });
  if (mode === 'name') m.setSort({ by: { kind: 'attr', key: 'run_name' }, descending: false });
  const times: number[] = [];
  let t = 0;
  m.changed.connect(() => {
    const t0 = performance.now();
    const r = m.runs; const tr = m.tree; const k = m.keys; const c = m.columns; void r; void tr; void k; void c;
    t += performance.now() - t0;
  });
  const orig = api.runs;
  let last = -1;
  api.runs = async (q: any, o: any) => { if (last >= 0) times.push(performance.now() - last); const p = await orig(q, o); last = performance.now(); return p; };
  await m.reload();
  times.push(performance.now() - last);
  await new Promise(r => setTimeout(r, 10));
  const s = [...times].sort((a, b) => a - b);
  console.log(mode, 'pages', times.length, 'per page ms: median', s[s.length >> 1].toFixed(1), 'max', s[s.length - 1].toFixed(1), 'last', times[times.length - 1].toFixed(1), 'runs', m.runCount);
})();
