/**
 * Live views: while any shown run is RUNNING, a view refreshes itself every few seconds (and
 * once more when the last one has finished, for its final values). Paused while hidden.
 */

export const LIVE_MS = 3000;

export class LiveRefresher {
  constructor(
    private readonly refresh: () => Promise<void>,
    private readonly running: () => boolean,
    private readonly visible: () => boolean,
    readonly intervalMs = LIVE_MS
  ) {}

  /** Call after each refresh: keeps ticking while something runs. */
  schedule(): void {
    if (this._disposed || this._timer !== null || !this.running()) {
      return;
    }
    this._timer = window.setTimeout(async () => {
      this._timer = null;
      if (this._disposed) {
        return;
      }
      if (this.visible() && !document.hidden) {
        await this.refresh();
      }
      this.schedule();
    }, this.intervalMs);
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _timer: number | null = null;
  private _disposed = false;
}
