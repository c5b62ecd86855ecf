/**
 * One chart per metric with every run's curve overlaid, x by step or wall time, linear or log
 * y. Histories come downsampled from the server, so a million-point metric costs ~1,000 points.
 */

import * as React from 'react';
import uPlot from 'uplot';

import { HistoryCache, MAX_POINTS } from '../historyCache';
import { alignSeries, historyXY, hasPositive, isSingleValued, XAxis } from '../logic/series';
import { formatTicks } from '../logic/ticks';
import { IMetricHistory, IRun } from '../logic/types';
import { Chart, themeColors, yAxisSize } from './chart';
import { ValuesChart } from './scatterChart';

export { HistoryCache, MAX_POINTS };

interface IMetricChartProps {
  metric: string;
  runs: IRun[];
  colors: string[];
  x: XAxis;
  log: boolean;
  cache: HistoryCache;
  themeKey: number;
  /** Bumped when the runs may have logged more: histories are fetched again. */
  version: number;
  /** What a metric logged once per run becomes: dots per run, or nothing (shown elsewhere). */
  singles: 'points' | 'skip';
}

function MetricChart(props: IMetricChartProps): JSX.Element {
  const { metric, runs, x, log, cache } = props;
  const withKey = runs.filter(r => metric in r.metrics);
  const [histories, setHistories] = React.useState<(IMetricHistory | null)[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const ids = withKey.map(r => r.run_id).join(',');

  React.useEffect(() => {
    let cancelled = false;
    void Promise.all(withKey.map(r => cache.get(r.run_id, metric, x).catch(() => null))).then(
      hs => {
        if (!cancelled) {
          if (hs.every(h => h === null) && hs.length) {
            setError(`Could not load the history of ${metric}.`);
          }
          setHistories(hs);
        }
      }
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ids, metric, x, cache, props.version]);

  const series = React.useMemo(
    () => (histories ? histories.map(h => (h ? historyXY(h, x) : { x: [], y: [] })) : null),
    [histories, x]
  );
  const linear = React.useMemo(() => (series ? alignSeries(series, false) : null), [series]);
  const logOk = linear !== null && hasPositive(linear);
  const useLog = log && logOk;
  const data = React.useMemo(
    () => (series && useLog ? alignSeries(series, true) : linear),
    [series, linear, useLog]
  );

  const optionsKey = `${metric}|${x}|${useLog}|${ids}|${props.themeKey}`;
  const options = (width: number): uPlot.Options => {
    const c = themeColors();
    const axis = {
      stroke: c.text,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid },
      values: (_u: uPlot, splits: number[]) => formatTicks(splits)
    };
    return {
      width,
      height: 240,
      scales: { x: { time: x === 'timestamp' }, y: { distr: useLog ? 3 : 1 } },
      // Time ticks keep uPlot's date formatting; step and value ticks get distinct labels.
      axes: [x === 'timestamp' ? { ...axis, values: undefined } : axis, { ...axis, size: yAxisSize }],
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: x === 'step' ? 'step' : 'time' },
        ...withKey.map(r => {
          const i = runs.indexOf(r);
          return {
            label: r.run_name || r.run_id.slice(0, 8),
            stroke: props.colors[i],
            width: 1.5,
            spanGaps: true,
            // A run with one point here would draw nothing as a line: show its dots.
            points: { show: (histories?.[withKey.indexOf(r)]?.value.length ?? 0) <= 1 ? true : undefined, size: 7 }
          };
        })
      ]
    };
  };

  const single = histories !== null && isSingleValued(histories);
  if (single && props.singles === 'skip') {
    return <></>;
  }
  const downsampled = (histories ?? []).some(h => h?.downsampled);
  const total = (histories ?? []).reduce((s, h) => s + (h?.total ?? 0), 0);
  return (
    <div
      className="nt-MetricChart"
      data-metric={metric}
      data-ready={data !== null}
      data-kind={histories === null ? 'loading' : single ? 'values' : 'curves'}
    >
      <div className="nt-MetricChart-title">
        {metric}
        {data !== null && (
          <span className="nt-muted">
            {' '}
            {withKey.length} run{withKey.length === 1 ? '' : 's'} ·{' '}
            {single
              ? 'one value per run'
              : `${total.toLocaleString()} points${downsampled ? ' (downsampled)' : ''}`}
            {log && !logOk && !single ? ' · no positive values for a log scale' : ''}
          </span>
        )}
      </div>
      {error && <div className="nt-Error">{error}</div>}
      {data === null ? (
        <div className="nt-ChartPlaceholder nt-muted">loading…</div>
      ) : single ? (
        <ValuesChart
          metric={metric}
          runs={withKey}
          colors={withKey.map(r => props.colors[runs.indexOf(r)])}
          themeKey={props.themeKey}
        />
      ) : (
        <Chart options={options} optionsKey={optionsKey} data={data} />
      )}
    </div>
  );
}

export interface IMetricChartsProps {
  runs: IRun[];
  colors: string[];
  cache: HistoryCache;
  themeKey: number;
  version?: number;
  singles?: 'points' | 'skip';
}

export function MetricCharts(props: IMetricChartsProps): JSX.Element {
  const [x, setX] = React.useState<XAxis>('step');
  const [log, setLog] = React.useState(false);
  const metrics = [...new Set(props.runs.flatMap(r => Object.keys(r.metrics)))].sort();
  if (metrics.length === 0) {
    return <div className="nt-muted">No metrics logged.</div>;
  }
  return (
    <div className="nt-MetricCharts">
      <div className="nt-ChartControls">
        <label>
          x:{' '}
          <select
            className="jp-mod-styled nt-XSelect"
            value={x}
            onChange={e => setX(e.target.value as XAxis)}
          >
            <option value="step">step</option>
            <option value="timestamp">time</option>
          </select>
        </label>
        <label>
          <input
            type="checkbox"
            className="nt-LogToggle"
            checked={log}
            onChange={e => setLog(e.target.checked)}
          />{' '}
          log scale
        </label>
        <span className="nt-muted">drag to zoom, double-click to reset</span>
      </div>
      <div className="nt-ChartGrid">
        {metrics.map(m => (
          <MetricChart
            key={m}
            metric={m}
            runs={props.runs}
            colors={props.colors}
            x={x}
            log={log}
            cache={props.cache}
            themeKey={props.themeKey}
            version={props.version ?? 0}
            singles={props.singles ?? 'points'}
          />
        ))}
      </div>
    </div>
  );
}
