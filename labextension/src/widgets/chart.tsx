/** A uPlot chart as a React component: created on mount, fed new data, sized to its box. */

import * as React from 'react';
import uPlot from 'uplot';

import { axisRoom } from '../logic/ticks';

export interface IChartProps {
  /** Builds the options for a given width; called again when `optionsKey` changes. */
  options: (width: number) => uPlot.Options;
  optionsKey: string;
  data: uPlot.AlignedData;
  height?: number;
  className?: string;
}

/** JupyterLab theme colours for axes and grid, read when a chart is built. */
export function themeColors(): { text: string; grid: string; axis: string } {
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string =>
    style.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--jp-ui-font-color1', '#333'),
    grid: v('--jp-border-color2', '#ddd'),
    axis: v('--jp-border-color1', '#bbb')
  };
}

/** uPlot's default axis font, and its bold form for axis titles. */
export const AXIS_FONT =
  '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
export const AXIS_TITLE_FONT = `bold ${AXIS_FONT}`;

let measuring: CanvasRenderingContext2D | null = null;

/** A text measure in CSS pixels for `font`, before any chart exists to measure with. */
export function textMeasure(font: string): (text: string) => number {
  measuring = measuring ?? document.createElement('canvas').getContext('2d');
  const ctx = measuring;
  if (!ctx) {
    return text => text.length * 7; // no canvas (a test DOM): about 7 px a character
  }
  return text => {
    ctx.font = font;
    return ctx.measureText(text).width;
  };
}

/**
 * A y axis's `size` that fits its tick labels (uPlot's default axis font: no chart sets
 * another). uPlot calls it again while the layout settles (a new width can change the
 * ticks); after two passes it keeps the width it has, so the layout cannot oscillate.
 */
export function yAxisSize(
  u: uPlot,
  values: string[] | null,
  axisIdx: number,
  cycleNum: number
): number {
  const axis = u.axes[axisIdx] as uPlot.Axis & { _size?: number };
  if (cycleNum > 1 && axis._size !== undefined) {
    return axis._size;
  }
  return axisRoom(values ?? [], textMeasure(AXIS_FONT), axis.ticks?.size ?? 10, axis.gap ?? 5);
}

export function Chart(props: IChartProps): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const plot = React.useRef<uPlot | null>(null);
  const height = props.height ?? 240;

  React.useEffect(() => {
    const el = box.current;
    if (!el) {
      return;
    }
    const width = Math.max(200, el.clientWidth);
    const base = props.options(width);
    // Marks the box once uPlot has painted, for tests and benchmarks waiting on a drawn chart.
    const drawn = (): void => {
      el.dataset.drawn = 'true';
    };
    const hooks = { ...base.hooks, draw: [...(base.hooks?.draw ?? []), drawn] };
    const opts = { ...base, width, height, hooks };
    const u = new uPlot(opts, props.data, el);
    plot.current = u;
    const observer = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== u.width) {
        u.setSize({ width: w, height });
      }
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      delete el.dataset.drawn;
      plot.current = null;
    };
    // Rebuilt only when the options change; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.optionsKey, height]);

  const first = React.useRef(true);
  React.useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    plot.current?.setData(props.data);
  }, [props.data]);

  return <div ref={box} className={`nt-Chart ${props.className ?? ''}`} />;
}
