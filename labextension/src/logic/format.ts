/** Display formatting for times, durations, numbers and sizes. */

export function formatDuration(ms: number | null): string {
  if (ms === null || !isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)}ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  }
  const totalMin = Math.floor(s / 60);
  if (totalMin < 60) {
    return `${totalMin}m ${Math.round(s - totalMin * 60)}s`;
  }
  const h = Math.floor(totalMin / 60);
  if (h < 24) {
    return `${h}h ${totalMin - h * 60}m`;
  }
  const d = Math.floor(h / 24);
  return `${d}d ${h - d * 24}h`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** `2024-05-01 13:04:05` in local time; '' for a missing time. */
export function formatTimestamp(ms: number | null): string {
  if (ms === null || !isFinite(ms)) {
    return '';
  }
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Compact start time for the table: `11-14 22:13` this year, `2023-11-14` before. */
export function formatShortTime(ms: number | null, now: number = Date.now()): string {
  if (ms === null || !isFinite(ms)) {
    return '';
  }
  const d = new Date(ms);
  if (d.getFullYear() !== new Date(now).getFullYear()) {
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Metric values: short but exact enough to tell runs apart. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (Number.isNaN(v)) {
    return 'NaN';
  }
  if (!isFinite(v)) {
    return v > 0 ? '∞' : '-∞';
  }
  if (Number.isInteger(v) && Math.abs(v) < 1e12) {
    return String(v);
  }
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
    return v.toExponential(3);
  }
  return String(Number(v.toPrecision(5)));
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
