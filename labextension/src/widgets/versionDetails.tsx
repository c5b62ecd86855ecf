/**
 * What a version of a registered model is, under its row in the Models tab: when it was made,
 * the run it came from (by name, with its key metrics), its signature and description, and how
 * to call it once served (curl and Python, saying how to authenticate).
 */

import * as React from 'react';

import { TrackerAPI } from '../api';
import { formatNumber, formatTimestamp } from '../logic/format';
import { modelPathInRun, signatureOf, snippets } from '../logic/modelInfo';
import { IModelVersion, IRun } from '../logic/types';

const KEY_METRICS = 4;

function Snippet(props: { label: string; text: string }): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  return (
    <div className="nt-Snippet" data-kind={props.label}>
      <div className="nt-Snippet-head">
        <span className="nt-muted">{props.label}</span>
        <button
          className="nt-LinkButton nt-CopyButton"
          onClick={() => {
            void navigator.clipboard?.writeText(props.text).then(() => {
              setCopied(true);
              window.setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? 'copied' : 'copy'}
        </button>
      </div>
      <pre className="nt-CellSource">{props.text}</pre>
    </div>
  );
}

export function VersionDetails(props: {
  api: TrackerAPI;
  version: IModelVersion;
  /** The scoring URL: of the running worker, or the one it would get. */
  url: string;
  onOpenRunId: (runId: string) => void;
}): JSX.Element {
  const { api, version } = props;
  const runId = version.run_id ?? null;
  const [run, setRun] = React.useState<IRun | null>(null);
  const [signature, setSignature] = React.useState<string | null>(null);
  React.useEffect(() => {
    let cancelled = false;
    if (!runId) {
      setSignature('');
      return;
    }
    api
      .run(runId)
      .then(async r => {
        if (cancelled) {
          return;
        }
        setRun(r);
        const path = modelPathInRun(version.source, r);
        if (path === null) {
          setSignature('');
          return;
        }
        const files = await api.artifacts(runId, path).catch(() => []);
        const mlmodel = `${path}/MLmodel`;
        const text = files.some(f => f.path === mlmodel)
          ? await api.artifactText(runId, mlmodel).catch(() => '')
          : '';
        if (!cancelled) {
          setSignature(signatureOf(text));
        }
      })
      .catch(() => !cancelled && setSignature(''));
    return () => {
      cancelled = true;
    };
  }, [api, runId, version.source]);

  const metrics = run ? Object.entries(run.metrics).slice(0, KEY_METRICS) : [];
  const code = snippets(props.url);
  return (
    <div className="nt-VersionDetails" data-version={String(version.version)}>
      <div>
        <span className="nt-muted">created </span>
        {formatTimestamp(version.creation_timestamp ?? null) || '—'}
      </div>
      {runId && (
        <div>
          <span className="nt-muted">from run </span>
          <button
            className="nt-LinkButton nt-RunLink nt-SourceRun"
            title={`run ${runId}`}
            onClick={() => props.onOpenRunId(runId)}
          >
            {run ? run.run_name || runId.slice(0, 8) : runId.slice(0, 8)}
          </button>
          {metrics.map(([k, v]) => (
            <span key={k} className="nt-KeyMetric">
              {' '}
              · <span className="nt-muted">{k}</span> {formatNumber(v)}
            </span>
          ))}
        </div>
      )}
      {version.description && <div className="nt-Description">{version.description}</div>}
      <div className="nt-Signature">
        <span className="nt-muted">signature </span>
        {signature === null ? (
          '…'
        ) : signature ? (
          <pre className="nt-CellSource">{signature}</pre>
        ) : (
          <span className="nt-muted">
            {runId ? 'none recorded' : 'not known (the model was not logged in a run)'}
          </span>
        )}
      </div>
      <Snippet label="curl" text={code.curl} />
      <Snippet label="Python" text={code.python} />
    </div>
  );
}
