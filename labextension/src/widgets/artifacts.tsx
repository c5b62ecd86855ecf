/**
 * A run's artifacts as a lazily expanded tree: images previewed inline, text files opened in a
 * JupyterLab tab, anything downloadable. Bytes are fetched with the server connection's auth
 * and shown from blob URLs, so nothing depends on cookies.
 */

import * as React from 'react';

import { TrackerAPI } from '../api';
import { formatBytes } from '../logic/format';
import { baseName, isImage, isText } from '../logic/paths';
import { IFileInfo } from '../logic/types';

export interface IArtifactActions {
  api: TrackerAPI;
  runId: string;
  onOpenText: (runId: string, path: string) => void;
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function ImagePreview(props: { api: TrackerAPI; runId: string; path: string }): JSX.Element {
  const [src, setSrc] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let url: string | null = null;
    let cancelled = false;
    props.api.artifactBlob(props.runId, props.path).then(
      blob => {
        if (!cancelled) {
          url = URL.createObjectURL(blob);
          setSrc(url);
        }
      },
      err => !cancelled && setError((err as Error).message)
    );
    return () => {
      cancelled = true;
      if (url) {
        URL.revokeObjectURL(url);
      }
    };
  }, [props.api, props.runId, props.path]);
  if (error) {
    return <div className="nt-Error">{error}</div>;
  }
  return src ? (
    <img className="nt-ArtifactImage" src={src} alt={props.path} />
  ) : (
    <div className="nt-muted">loading…</div>
  );
}

function FileRow(props: IArtifactActions & { file: IFileInfo }): JSX.Element {
  const { file, api, runId } = props;
  const [error, setError] = React.useState<string | null>(null);
  const name = baseName(file.path);
  const onDownload = async (): Promise<void> => {
    try {
      download(await api.artifactBlob(runId, file.path), name);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <li className="nt-Artifact" data-path={file.path}>
      <span className="nt-Artifact-name" title={file.path}>
        {name}
      </span>
      <span className="nt-muted"> {formatBytes(file.file_size)}</span>
      <span className="nt-Artifact-actions">
        {isText(file.path) && (
          <button className="nt-LinkButton" onClick={() => props.onOpenText(runId, file.path)}>
            open
          </button>
        )}
        <button className="nt-LinkButton" onClick={() => void onDownload()}>
          download
        </button>
      </span>
      {error && <div className="nt-Error">{error}</div>}
      {isImage(file.path) && <ImagePreview api={api} runId={runId} path={file.path} />}
    </li>
  );
}

function Folder(props: IArtifactActions & { path: string; open: boolean }): JSX.Element {
  const [open, setOpen] = React.useState(props.open);
  const [files, setFiles] = React.useState<IFileInfo[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (!open || files !== null) {
      return;
    }
    props.api.artifacts(props.runId, props.path).then(setFiles, err =>
      setError((err as Error).message)
    );
  }, [open, files, props.api, props.runId, props.path]);

  const list = (
    <ul className="nt-ArtifactList">
      {error && <li className="nt-Error">{error}</li>}
      {files === null && !error && <li className="nt-muted">loading…</li>}
      {files !== null && files.length === 0 && <li className="nt-muted">no artifacts</li>}
      {(files ?? []).map(f =>
        f.is_dir ? (
          <li key={f.path}>
            <Folder {...props} path={f.path} open={false} />
          </li>
        ) : (
          <FileRow key={f.path} {...props} file={f} />
        )
      )}
    </ul>
  );
  if (!props.path) {
    return list;
  }
  return (
    <div className="nt-Folder" data-path={props.path}>
      <button className="nt-LinkButton nt-Folder-toggle" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {baseName(props.path)}/
      </button>
      {open && list}
    </div>
  );
}

export function ArtifactBrowser(props: IArtifactActions): JSX.Element {
  return (
    <div className="nt-Artifacts">
      <Folder {...props} path="" open={true} />
    </div>
  );
}
