/**
 * Axis tick labels: as short as possible while every label stays distinct, so a narrow range
 * (0.0101 … 0.0104) reads "0.0101 0.0102 …" instead of "0.01 0.01 0.01".
 */

function fixed(v: number, decimals: number): string {
  const s = v.toFixed(decimals);
  // "-0.000" → "0.000": a zero tick is not negative.
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

function exponential(v: number, digits: number): string {
  return v === 0 ? '0' : v.toExponential(digits).replace('e+', 'e');
}

function distinct(labels: string[]): boolean {
  return new Set(labels).size === labels.length;
}

/**
 * Labels for tick values `splits` (uPlot's axis `values`): distinct, with the fewest digits.
 * A null split (a log axis's unlabelled minor tick) gets an empty label.
 */
export function formatTicks(input: (number | null)[]): string[] {
  const labelled = input.map(v => typeof v === 'number' && !Number.isNaN(v));
  const raw = input.map(v => (typeof v === 'number' ? v : NaN));
  const finiteRaw = raw.filter(v => Number.isFinite(v));
  if (finiteRaw.length === 0) {
    return raw.map((v, i) => (labelled[i] ? String(v) : ''));
  }
  const big = Math.max(...finiteRaw.map(Math.abs));
  // Float noise around a zero tick (-1e-17) is zero.
  const splits = raw.map(v => (Math.abs(v) < big * 1e-9 ? 0 : v));
  const finite = splits.filter(v => Number.isFinite(v));
  const nonZero = finite.filter(v => v !== 0).map(Math.abs);
  const small = nonZero.length ? Math.min(...nonZero) : 0;
  const useExp = big >= 1e7 || (big > 0 && big < 1e-4) || (small > 0 && small < 1e-6 && big < 1);
  const sorted = [...finite].sort((a, b) => a - b);
  let step = Infinity;
  let widest = 0;
  for (let i = 1; i < sorted.length; i++) {
    const d = sorted[i] - sorted[i - 1];
    if (d > 0 && d < step) {
      step = d;
    }
    widest = Math.max(widest, d);
  }
  if (widest > step * 1.5) {
    // Ticks by ratio (a log axis): each label on its own, "0.1 1 10", not "0.1 1.0 10.0".
    return splits.map((v, i) =>
      !labelled[i] ? '' : Math.abs(v) >= 1e7 ? exponential(v, 2) : String(Number(v.toPrecision(6)))
    );
  }
  // A label is good when it reads back within a tenth of the tick step of its value.
  const tolerance = Number.isFinite(step) ? step / 10 : big * 1e-6;
  for (let digits = 0; digits <= 15; digits++) {
    const labels = splits.map((v, i) =>
      !labelled[i]
        ? ''
        : !Number.isFinite(v)
          ? String(v)
          : useExp
            ? exponential(v, digits)
            : fixed(v, digits)
    );
    const faithful = splits.every(
      (v, i) => !Number.isFinite(v) || Math.abs(Number(labels[i]) - v) <= tolerance
    );
    if (faithful && distinct(labels.filter(l => l !== ''))) {
      return labels;
    }
  }
  return splits.map((v, i) => (labelled[i] ? String(v) : ''));
}

/** The y axis's width before its title when nothing longer needs room (uPlot's own is 50). */
export const MIN_AXIS_ROOM = 64;
/** Space kept between the widest tick label and the axis title beside it. */
const TITLE_CLEARANCE = 6;

/**
 * Room a y axis needs for its tick `labels` (uPlot's axis `size`): the widest label as
 * `measure` gives it, plus the ticks, the gap and a clearance from the title, and never less
 * than `min`. A fixed width let a long label (-1.00875) run into the axis title beside it.
 */
export function axisRoom(
  labels: (string | null | undefined)[],
  measure: (label: string) => number,
  ticks: number,
  gap: number,
  min: number = MIN_AXIS_ROOM
): number {
  const widest = labels.reduce((w, label) => (label ? Math.max(w, measure(label)) : w), 0);
  return Math.max(min, Math.ceil(widest + ticks + gap + TITLE_CLEARANCE));
}

/**
 * Whether category labels side by side would overlap: the widest label, plus `gap`, against
 * the room each category has on a plot `plotWidth` wide. Such labels are drawn slanted.
 */
export function categoriesCrowded(
  labels: string[],
  measure: (label: string) => number,
  plotWidth: number,
  gap = 8
): boolean {
  if (labels.length === 0) {
    return false;
  }
  const widest = labels.reduce((w, label) => Math.max(w, measure(label)), 0);
  return widest + gap > plotWidth / labels.length;
}

/**
 * `label` cut with an ellipsis to fit `room` pixels as `measure` gives them: an axis title
 * longer than its axis was clipped at the chart's edge, where its start and end are the
 * parts that tell metrics apart, so the middle goes.
 */
export function fitLabel(label: string, measure: (s: string) => number, room: number): string {
  if (measure(label) <= room) {
    return label;
  }
  let keep = label.length - 1;
  while (keep > 2) {
    const head = Math.ceil(keep / 2);
    const cut = `${label.slice(0, head)}…${label.slice(label.length - (keep - head))}`;
    if (measure(cut) <= room) {
      return cut;
    }
    keep -= 1;
  }
  return `${label.slice(0, 1)}…`;
}
