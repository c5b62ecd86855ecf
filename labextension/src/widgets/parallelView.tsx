/**
 * Parallel coordinates drawn with uPlot: axes at x = 0..k-1 (varying params, then the chosen
 * metric), one polyline per run coloured by the metric on a blue→red ramp.
 */

import * as React from 'react';
import uPlot from 'uplot';

import { rampColor } from '../logic/colors';
import { formatNumber } from '../logic/format';
import { axisRange, axisTicks, parallelCoordinates, varyingParams } from '../logic/parallel';
import { IRun } from '../logic/types';
import { Chart, themeColors } from './chart';

export function ParallelView(props: {
  runs: IRun[];
  themeKey: number;
  /** A colour per run (as in the rest of the compare view); absent: shaded by the metric. */
  colors?: string[];
}): JSX.Element {
  const { runs } = props;
  const metrics = [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort();
  const [metric, setMetric] = React.useState<string>(metrics[0] ?? '');
  const chosen = metrics.includes(metric) ? metric : (metrics[0] ?? '');
  const params = varyingParams(runs);

  const pc = React.useMemo(
    () => parallelCoordinates(runs, params, chosen),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [runs, params.join('\u0000'), chosen]
  );
  if (!chosen) {
    return <div className="nt-muted">No metric to plot params against.</div>;
  }
  if (params.length === 0) {
    return <div className="nt-muted">No param varies across these runs.</div>;
  }
  const labels = pc.axes.map(a => a.key);
  const xs = labels.map((_, i) => i);
  const data = [xs, ...pc.lines] as uPlot.AlignedData;
  const optionsKey = `${labels.join('|')}|${runs.map(r => r.run_id).join(',')}|${props.themeKey}|${chosen}`;
  const options = (width: number): uPlot.Options => {
    const c = themeColors();
    // Each axis carries its own scale: write its values along it.
    const drawTicks = (u: uPlot): void => {
      const ctx = u.ctx;
      const ratio = window.devicePixelRatio || 1;
      ctx.save();
      ctx.font = `${10 * ratio}px sans-serif`;
      ctx.textBaseline = 'middle';
      ctx.lineWidth = 3 * ratio;
      ctx.strokeStyle = getComputedStyle(document.body)
        .getPropertyValue('--jp-layout-color0')
        .trim() || '#fff';
      ctx.fillStyle = c.text;
      pc.axes.forEach((axis, a) => {
        const px = u.valToPos(a, 'x', true);
        const last = a === pc.axes.length - 1;
        ctx.textAlign = last ? 'right' : 'left';
        for (const tick of axisTicks(axis)) {
          const py = u.valToPos(tick.t, 'y', true);
          const text = tick.label.length > 14 ? `${tick.label.slice(0, 13)}…` : tick.label;
          const x = px + (last ? -5 : 5) * ratio;
          ctx.strokeText(text, x, py);
          ctx.fillText(text, x, py);
        }
      });
      ctx.restore();
    };
    return {
      hooks: { draw: [drawTicks] },
      width,
      height: 260,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: [-0.15, xs.length - 0.85] },
        y: { range: [-0.05, 1.05] }
      },
      axes: [
        {
          stroke: c.text,
          grid: { stroke: c.axis, width: 1 },
          ticks: { show: false },
          splits: () => xs,
          values: (_u, splits) => splits.map(s => labels[s] ?? '')
        },
        { show: false }
      ],
      series: [
        {},
        ...runs.map((r, i) => ({
          label: r.run_name,
          stroke: props.colors
            ? props.colors[i]
            : pc.shade[i] === null
              ? c.axis
              : rampColor(pc.shade[i]),
          width: 1.5,
          spanGaps: false,
          points: { show: true, size: 5 }
        }))
      ]
    };
  };
  return (
    <div className="nt-Parallel">
      <label className="nt-ChartControls">
        {props.colors ? 'last axis:' : 'colour and last axis:'}{' '}
        <select
          className="jp-mod-styled nt-ParallelMetric"
          value={chosen}
          onChange={e => setMetric(e.target.value)}
        >
          {metrics.map(m => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <div className="nt-MetricChart" data-ready="true">
        <Chart options={options} optionsKey={optionsKey} data={data} height={260} />
      </div>
      <table className="nt-Table nt-AxisRanges">
        <tbody>
          {pc.axes.map(a => (
            <tr key={`${a.kind}:${a.key}`}>
              <th scope="row">
                {a.kind === 'metric' ? 'metric ' : ''}
                {a.key}
              </th>
              <td>
                {a.numeric && a.kind === 'metric'
                  ? `${formatNumber(a.min)} … ${formatNumber(a.max)}`
                  : axisRange(a)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
