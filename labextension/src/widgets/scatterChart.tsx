/**
 * Points, not curves: single-value metrics as one dot per run (run names on x, the value
 * written by each dot), and a metric against a param (numbers on a linear or log axis, text as
 * categories). Free of JupyterLab imports so notebook widgets can draw the same charts.
 */

import * as React from 'react';
import uPlot from 'uplot';

import { formatNumber } from '../logic/format';
import { IPoint, paramAxis, scatterData } from '../logic/series';
import { categoriesCrowded, fitLabel, formatTicks, MIN_AXIS_ROOM } from '../logic/ticks';
import { IRun } from '../logic/types';
import { AXIS_FONT, AXIS_TITLE_FONT, Chart, textMeasure, themeColors, yAxisSize } from './chart';

export interface IScatterGroup {
  label: string;
  color: string;
  /** Dot diameter in CSS pixels. */
  size?: number;
}

export interface IScatterChartProps {
  groups: IScatterGroup[];
  points: IPoint[];
  /** Category names: x is an index into these (run names, text param values). */
  categories?: string[] | null;
  xLog?: boolean;
  xLabel?: string;
  yLabel?: string;
  /** Write each point's value beside it (few points only). */
  valueLabels?: boolean;
  height?: number;
  optionsKey: string;
}

const MAX_CATEGORY_CHARS = 16;

function shorten(s: string): string {
  return s.length > MAX_CATEGORY_CHARS ? `${s.slice(0, MAX_CATEGORY_CHARS - 1)}…` : s;
}

export function ScatterChart(props: IScatterChartProps): JSX.Element {
  const { groups, categories } = props;
  const data = React.useMemo(
    () => scatterData(props.points, groups.length),
    [props.points, groups.length]
  );
  const height = props.height ?? 240;
  const options = (width: number): uPlot.Options => {
    const c = themeColors();
    const axis = {
      stroke: c.text,
      grid: { stroke: c.grid, width: 1 },
      ticks: { stroke: c.grid },
      values: (_u: uPlot, splits: number[]) => formatTicks(splits)
    };
    const n = categories?.length ?? 0;
    // The plot's width: the chart's, less the y axis, its title and the value labels' margin.
    const plotWidth = width - MIN_AXIS_ROOM - 30 - (props.valueLabels ? 56 : 16);
    const crowded =
      !!categories && categoriesCrowded(categories.map(shorten), textMeasure(AXIS_FONT), plotWidth);
    const xAxisSize = categories ? (crowded ? 70 : 40) : 50; // uPlot's own is 50
    // What the y axis's title has: the chart's height less the x axis, its title (uPlot's 30)
    // and the padding above.
    const titleRoom = height - xAxisSize - (props.xLabel ? 30 : 0) - 12;
    const xAxis: uPlot.Axis = categories
      ? {
          ...axis,
          label: props.xLabel,
          splits: () => categories.map((_, i) => i),
          values: (_u: uPlot, splits: number[]) =>
            splits.map(i => shorten(categories[Math.round(i)] ?? '')),
          rotate: crowded ? -35 : 0,
          size: xAxisSize,
          grid: { show: false }
        }
      : { ...axis, label: props.xLabel };
    const drawValues = (u: uPlot): void => {
      if (!props.valueLabels) {
        return;
      }
      const ctx = u.ctx;
      const ratio = window.devicePixelRatio || 1;
      ctx.save();
      ctx.fillStyle = c.text;
      ctx.font = `${11 * ratio}px sans-serif`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      const xs = u.data[0] as number[];
      for (let s = 1; s < u.data.length; s++) {
        const ys = u.data[s] as (number | null)[];
        for (let i = 0; i < xs.length; i++) {
          const y = ys[i];
          if (y !== null && y !== undefined) {
            const px = u.valToPos(xs[i], 'x', true);
            const py = u.valToPos(y, 'y', true);
            ctx.fillText(formatNumber(y), px + 8 * ratio, py);
          }
        }
      }
      ctx.restore();
    };
    return {
      width,
      height,
      // Room on the right for the value written beside the last dot.
      padding: [12, props.valueLabels ? 56 : 16, 0, 0],
      scales: {
        x: categories
          ? { time: false, range: [-0.5, Math.max(0.5, n - 0.5)] }
          : { time: false, distr: props.xLog ? 3 : 1 },
        y: { auto: true }
      },
      axes: [
        xAxis,
        {
          ...axis,
          label: props.yLabel && fitLabel(props.yLabel, textMeasure(AXIS_TITLE_FONT), titleRoom),
          size: yAxisSize
        }
      ],
      cursor: { drag: { x: true, y: true }, points: { size: 10 } },
      legend: { show: groups.length > 1 && !categories },
      series: [
        { label: props.xLabel ?? 'x' },
        ...groups.map(g => ({
          label: g.label,
          stroke: g.color,
          fill: g.color,
          width: 1,
          paths: () => null,
          points: { show: true, size: g.size ?? 9, fill: g.color, stroke: g.color, width: 1 }
        }))
      ],
      hooks: { draw: [drawValues] }
    };
  };
  return (
    <Chart
      options={options}
      optionsKey={`${props.optionsKey}|${categories?.join('\u0000') ?? ''}|${props.xLog}`}
      data={data}
      height={height}
      className="nt-ScatterChart"
    />
  );
}

/** A single-value metric across runs: one dot per run in its colour, its value beside it. */
export function ValuesChart(props: {
  metric: string;
  runs: IRun[];
  colors: string[];
  themeKey: number;
}): JSX.Element {
  const { runs, metric } = props;
  const groups = runs.map((r, i) => ({
    label: r.run_name || r.run_id.slice(0, 8),
    color: props.colors[i]
  }));
  const points = React.useMemo(
    () =>
      runs
        .map((r, i) => ({ x: i, y: r.metrics[metric] ?? NaN, group: i }))
        .filter(p => Number.isFinite(p.y)),
    [runs, metric]
  );
  return (
    <ScatterChart
      groups={groups}
      points={points}
      categories={groups.map(g => g.label)}
      valueLabels={runs.length <= 12}
      yLabel={metric}
      optionsKey={`values|${metric}|${runs.map(r => r.run_id).join(',')}|${props.themeKey}`}
    />
  );
}

/** Keys of params with more than one value (or any value, for a single run) among `runs`. */
function scatterParams(runs: IRun[]): string[] {
  const values = new Map<string, Set<string>>();
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.params)) {
      let set = values.get(k);
      if (!set) {
        set = new Set();
        values.set(k, set);
      }
      set.add(v);
    }
  }
  const varying = [...values.entries()].filter(([, s]) => s.size > 1).map(([k]) => k);
  return (varying.length ? varying : [...values.keys()]).sort();
}

export interface IParamScatterProps {
  runs: IRun[];
  /** A colour per run, or one colour for all but `highlight`. */
  colors: string[];
  /** The run drawn larger and named in the legend (run details: this run among its siblings). */
  highlight?: string;
  themeKey: number;
}

/** A metric against a param: one dot per run, with pickers for the two. */
export function ParamScatter(props: IParamScatterProps): JSX.Element {
  const { runs } = props;
  const metrics = React.useMemo(
    () => [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort(),
    [runs]
  );
  const params = React.useMemo(() => scatterParams(runs), [runs]);
  const [metric, setMetric] = React.useState('');
  const [param, setParam] = React.useState('');
  const m = metrics.includes(metric) ? metric : (metrics[0] ?? '');
  const p = params.includes(param) ? param : (params[0] ?? '');
  const axis = React.useMemo(() => paramAxis(runs.map(r => r.params[p])), [runs, p]);
  const [logX, setLogX] = React.useState<boolean | null>(null);
  const canLog = axis.categories === null && axis.xs.every(x => x === null || x > 0);
  const useLog = canLog && (logX ?? axis.log);

  const highlight = props.highlight;
  const perRun = !highlight;
  const groups: IScatterGroup[] = perRun
    ? runs.map((r, i) => ({ label: r.run_name || r.run_id.slice(0, 8), color: props.colors[i] }))
    : [
        { label: 'other runs', color: props.colors[1] ?? '#999', size: 7 },
        {
          label: runs.find(r => r.run_id === highlight)?.run_name ?? 'this run',
          color: props.colors[0],
          size: 12
        }
      ];
  const points = React.useMemo(() => {
    const out: IPoint[] = [];
    runs.forEach((r, i) => {
      const x = axis.xs[i];
      const y = r.metrics[m];
      if (x === null || y === null || y === undefined) {
        return;
      }
      if (useLog && x <= 0) {
        return;
      }
      out.push({ x, y, group: perRun ? i : r.run_id === highlight ? 1 : 0 });
    });
    return out;
  }, [runs, axis, m, useLog, perRun, highlight]);

  if (!m || !p) {
    return (
      <div className="nt-muted">
        {m ? 'No params to plot the metrics against.' : 'No metrics logged.'}
      </div>
    );
  }
  return (
    <div className="nt-ParamScatter" data-metric={m} data-param={p}>
      <div className="nt-ChartControls">
        <label>
          metric{' '}
          <select
            className="jp-mod-styled nt-ScatterMetric"
            value={m}
            onChange={e => setMetric(e.target.value)}
          >
            {metrics.map(k => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          against param{' '}
          <select
            className="jp-mod-styled nt-ScatterParam"
            value={p}
            onChange={e => setParam(e.target.value)}
          >
            {params.map(k => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        {canLog && (
          <label>
            <input
              type="checkbox"
              checked={useLog}
              onChange={e => setLogX(e.target.checked)}
            />{' '}
            log x
          </label>
        )}
        <span className="nt-muted">
          {points.length} of {runs.length} runs have both
        </span>
      </div>
      <ScatterChart
        groups={groups}
        points={points}
        categories={axis.categories}
        xLog={useLog}
        xLabel={`params.${p}`}
        yLabel={m}
        valueLabels={points.length <= 12}
        optionsKey={`scatter|${m}|${p}|${runs.map(r => r.run_id).join(',')}|${highlight}|${props.themeKey}`}
      />
    </div>
  );
}
