/**
 * Registered models with their versions and aliases, which are being served, and start/stop.
 * A server without the model registry endpoints gets an empty state, not an error.
 */

import * as React from 'react';

import { ApiError, TrackerAPI } from '../api';
import { IRegisteredModel, IServedModel } from '../logic/types';

interface IState {
  models: IRegisteredModel[];
  served: IServedModel[];
  unavailable: boolean;
  error: string | null;
  loading: boolean;
}

const POLL_MS = 5000;

export function ModelsView(props: { api: TrackerAPI; active: boolean }): JSX.Element {
  const { api } = props;
  const [state, setState] = React.useState<IState>({
    models: [],
    served: [],
    unavailable: false,
    error: null,
    loading: true
  });
  const [busy, setBusy] = React.useState<string | null>(null);
  const [choice, setChoice] = React.useState<Record<string, string>>({});

  const load = React.useCallback(async () => {
    try {
      const models = await api.models();
      let served: IServedModel[] = [];
      try {
        served = await api.served();
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          throw err;
        }
      }
      setState({ models, served, unavailable: false, error: null, loading: false });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setState(s => ({ ...s, unavailable: true, error: null, loading: false }));
      } else {
        setState(s => ({ ...s, error: (err as Error).message, loading: false }));
      }
    }
  }, [api]);

  React.useEffect(() => {
    if (!props.active) {
      return;
    }
    void load();
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [props.active, load]);

  const act = async (name: string, fn: () => Promise<void>): Promise<void> => {
    setBusy(name);
    try {
      await fn();
      await load();
    } catch (err) {
      setState(s => ({ ...s, error: (err as Error).message }));
    } finally {
      setBusy(null);
    }
  };

  if (state.loading) {
    return <div className="nt-Empty">Loading models…</div>;
  }
  if (state.unavailable) {
    return (
      <div className="nt-Empty nt-ModelsUnavailable">
        This server has no model registry endpoints yet.
      </div>
    );
  }
  const servedBy = new Map(state.served.map(s => [s.name, s]));
  return (
    <div className="nt-ModelsView">
      {state.error && (
        <div className="nt-Error" role="alert">
          {state.error}
        </div>
      )}
      {state.models.length === 0 && (
        <div className="nt-Empty">
          No registered models. Register one with notebook_tracker's model registry.
        </div>
      )}
      {state.models.map(m => {
        const serving = servedBy.get(m.name);
        const versions = (m.latest_versions ?? []).map(v => v.version);
        const aliases = Object.entries(m.aliases ?? {});
        const ref = choice[m.name] ?? (aliases.length ? `alias:${aliases[0][0]}` : `version:${versions[versions.length - 1] ?? ''}`);
        return (
          <div key={m.name} className="nt-Model" data-model={m.name}>
            <div className="nt-Model-head">
              <span className="nt-Model-name">{m.name}</span>
              {serving && (
                <span className={`nt-Badge nt-Badge-${serving.state}`} title={serving.url}>
                  {serving.state} v{serving.version}
                </span>
              )}
            </div>
            {m.description && <div className="nt-muted">{m.description}</div>}
            <div className="nt-Model-versions">
              Versions: {versions.length ? versions.join(', ') : '—'}
            </div>
            {aliases.length > 0 && (
              <div className="nt-Model-aliases">
                {aliases.map(([alias, version]) => (
                  <span key={alias} className="nt-Badge">
                    @{alias} → v{version}
                  </span>
                ))}
              </div>
            )}
            {serving && serving.url && (
              <div className="nt-Model-url">
                <a href={serving.url} target="_blank" rel="noreferrer">
                  {serving.url}
                </a>
              </div>
            )}
            <div className="nt-Model-actions">
              {!serving || serving.state === 'stopped' ? (
                <>
                  <select
                    className="jp-mod-styled"
                    value={ref}
                    aria-label={`version of ${m.name} to serve`}
                    onChange={e => setChoice({ ...choice, [m.name]: e.target.value })}
                  >
                    {aliases.map(([alias]) => (
                      <option key={alias} value={`alias:${alias}`}>
                        @{alias}
                      </option>
                    ))}
                    {versions.map(v => (
                      <option key={v} value={`version:${v}`}>
                        v{v}
                      </option>
                    ))}
                  </select>
                  <button
                    className="jp-mod-styled jp-mod-accept"
                    disabled={busy === m.name || (!versions.length && !aliases.length)}
                    onClick={() => {
                      const [kind, value] = ref.split(/:(.*)/s);
                      void act(m.name, () =>
                        api.startServing(m.name, kind === 'alias' ? { alias: value } : { version: value })
                      );
                    }}
                  >
                    Serve
                  </button>
                </>
              ) : (
                <button
                  className="jp-mod-styled jp-mod-warn"
                  disabled={busy === m.name}
                  onClick={() => void act(m.name, () => api.stopServing(m.name))}
                >
                  Stop
                </button>
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
