/**
 * The base of the sidebar's state models: state lives in a plain class that emits `changed`
 * after every change, and views render it through `UseSignal` inside a `ReactWidget`.
 * No React and no DOM here (timers aside), so models are unit-tested in node.
 */

import { ISignal, Signal } from '@lumino/signaling';

export abstract class StateModel {
  /** Emitted after any change of the state the getters return. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  protected emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _disposed = false;
}
