/**
 * Run colours: a categorical palette readable on the light and the dark theme
 * (mid-saturation hues, no near-black or near-white).
 */
const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

export function runColor(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** A colour on a blue→red ramp for t in [0, 1] (parallel coordinates by metric value). */
export function rampColor(t: number): string {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  const r = Math.round(49 + x * (214 - 49));
  const g = Math.round(130 + x * (39 - 130));
  const b = Math.round(189 + x * (40 - 189));
  return `rgb(${r}, ${g}, ${b})`;
}
