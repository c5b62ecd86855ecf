/**
 * `%compare_runs`'s charts in a notebook output: an anywidget front end drawing the sidebar's
 * own chart components (uPlot) from data the kernel sends once, already downsampled.
 * Bundled by esbuild into notebook_tracker/widgets/static/compare.js (see package.json).
 */

import * as React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { TrackerAPI } from '../api';
import { runColor } from '../logic/colors';
import { IMetricHistory, IRun } from '../logic/types';
import { HistoryCache, MetricCharts } from '../widgets/metricCharts';
import { ParamScatter } from '../widgets/scatterChart';

/**
 * Per metric, per run id: [total, buffer] where the buffer holds little-endian float64 steps,
 * then timestamps, then values (NaN for a gap), downsampled in the kernel.
 */
type Histories = Record<string, Record<string, [number, DataView | ArrayBuffer]>>;

/** A binary history as the sidebar's charts take it. */
export function decodeHistory(key: string, total: number, raw: DataView | ArrayBuffer): IMetricHistory {
  const view = raw instanceof DataView ? raw : new DataView(raw);
  const n = Math.floor(view.byteLength / 24);
  const step = new Array<number>(n);
  const timestamp = new Array<number>(n);
  const value = new Array<number | null>(n);
  for (let i = 0; i < n; i++) {
    step[i] = view.getFloat64(i * 8, true);
    timestamp[i] = view.getFloat64((n + i) * 8, true);
    const v = view.getFloat64((2 * n + i) * 8, true);
    value[i] = Number.isFinite(v) ? v : null;
  }
  return { key, step, timestamp, value, total, downsampled: total > n };
}

interface IModel {
  get(name: string): unknown;
  on(event: string, callback: () => void): void;
  off(event: string, callback: () => void): void;
}

/** The kernel's histories behind the `history` call the sidebar's cache makes to its server. */
function kernelApi(histories: Histories): TrackerAPI {
  const api = {
    history(runId: string, key: string): Promise<IMetricHistory> {
      const h = histories[key]?.[runId];
      if (!h) {
        return Promise.reject(new Error(`no history of ${key} for ${runId}`));
      }
      return Promise.resolve(decodeHistory(key, h[0], h[1]));
    }
  };
  return api as unknown as TrackerAPI;
}

function CompareCharts(props: { model: IModel }): JSX.Element {
  const { model } = props;
  const read = () => ({
    runs: (model.get('runs') as IRun[]) ?? [],
    histories: (model.get('histories') as Histories) ?? {},
    view: (model.get('view') as string) ?? 'all'
  });
  const [state, setState] = React.useState(read);
  React.useEffect(() => {
    const update = (): void => setState(read());
    model.on('change:runs', update);
    model.on('change:histories', update);
    model.on('change:view', update);
    return () => {
      model.off('change:runs', update);
      model.off('change:histories', update);
      model.off('change:view', update);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [model]);
  const cache = React.useMemo(() => new HistoryCache(kernelApi(state.histories)), [state.histories]);
  const colors = state.runs.map((_, i) => runColor(i));
  const metrics = <MetricCharts runs={state.runs} colors={colors} cache={cache} themeKey={0} />;
  const scatter = <ParamScatter runs={state.runs} colors={colors} themeKey={0} />;
  if (state.view === 'scatter') {
    return scatter;
  }
  if (state.view === 'metrics') {
    return metrics;
  }
  return (
    <>
      {metrics}
      <div className="nt-MetricChart-title nt-CompareWidget-section">Metric against param</div>
      {scatter}
    </>
  );
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  el.classList.add('nt-CompareWidget');
  const root: Root = createRoot(el);
  root.render(<CompareCharts model={model} />);
  return () => root.unmount();
}

export default { render };
