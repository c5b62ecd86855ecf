/**
 * State of the Models tab: registered models, their versions, which versions are served, and
 * start/stop. Reloaded every few seconds while the tab is shown. A server without the model
 * endpoints (404) is "unavailable", not an error.
 */

import type { TrackerAPI } from './api';
import { ApiError } from './apiError';
import { IModelVersion, IRegisteredModel, IServedModel } from './logic/types';
import { StateModel } from './state';

export const REGISTRY_POLL_MS = 5000;

/** The part of the API the registry model calls (unit tests pass a fake). */
export type IRegistrySource = Pick<
  TrackerAPI,
  'models' | 'modelVersions' | 'served' | 'startServing' | 'stopServing'
>;

export class RegistryModel extends StateModel {
  constructor(
    readonly api: IRegistrySource,
    readonly pollMs = REGISTRY_POLL_MS
  ) {
    super();
  }

  get models(): IRegisteredModel[] {
    return this._models;
  }
  /** Versions by model name; null when that model's versions could not be read. */
  get versions(): Readonly<Record<string, IModelVersion[] | null>> {
    return this._versions;
  }
  get served(): IServedModel[] {
    return this._served;
  }
  /** True until the first load has answered. */
  get loading(): boolean {
    return this._loading;
  }
  /** The server has no model registry endpoints. */
  get unavailable(): boolean {
    return this._unavailable;
  }
  get error(): string | null {
    return this._error;
  }
  /** The `name/version` a start or stop is running for. */
  get busy(): string | null {
    return this._busy;
  }

  /** Load now and every `pollMs` while the tab is shown. */
  set active(value: boolean) {
    if (value === this._active || this.isDisposed) {
      return;
    }
    this._active = value;
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
    if (value) {
      void this.load();
      this._timer = window.setInterval(() => void this.load(), this.pollMs);
    }
  }

  async load(): Promise<void> {
    try {
      const models = await this.api.models();
      const [served, versions] = await Promise.all([
        this.api.served().catch((err: unknown) => {
          // Registry without serving: nothing is served.
          if (err instanceof ApiError && err.status === 404) {
            return [] as IServedModel[];
          }
          throw err;
        }),
        Promise.all(models.map(m => this.api.modelVersions(m.name).catch(() => null)))
      ]);
      this._models = models;
      this._served = served;
      this._versions = Object.fromEntries(models.map((m, i) => [m.name, versions[i]]));
      this._unavailable = false;
      this._error = null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        this._unavailable = true;
        this._error = null;
      } else {
        this._error = err instanceof Error ? err.message : String(err);
      }
    }
    this._loading = false;
    this.emit();
  }

  /** Start serving a version; the list reloads to show its state. */
  serve(name: string, version: string): Promise<void> {
    return this._act(`${name}/${version}`, () => this.api.startServing(name, { version }));
  }

  stop(name: string, version: string): Promise<void> {
    return this._act(`${name}/${version}`, () => this.api.stopServing(name, version));
  }

  dispose(): void {
    this.active = false;
    super.dispose();
  }

  private async _act(key: string, fn: () => Promise<void>): Promise<void> {
    this._busy = key;
    this.emit();
    try {
      await fn();
      await this.load();
    } catch (err) {
      this._error = err instanceof Error ? err.message : String(err);
    } finally {
      this._busy = null;
      this.emit();
    }
  }

  private _models: IRegisteredModel[] = [];
  private _versions: Record<string, IModelVersion[] | null> = {};
  private _served: IServedModel[] = [];
  private _loading = true;
  private _unavailable = false;
  private _error: string | null = null;
  private _busy: string | null = null;
  private _active = false;
  private _timer: number | null = null;
}
