/** A model version's details: where its files sit in its run, its signature, how to call it. */

import { IRun } from './types';

/** `runs:/<id>/<path>` or an artifact URI under the run's: the model's folder in the run. */
export function modelPathInRun(source: string | null | undefined, run: IRun): string | null {
  if (!source) {
    return null;
  }
  const m = /^runs:\/[^/]*\/(.+)$/.exec(source);
  if (m) {
    return m[1].replace(/\/+$/, '');
  }
  const root = run.artifact_uri.replace(/\/+$/, '');
  if (root && source.startsWith(`${root}/`)) {
    return source.slice(root.length + 1).replace(/\/+$/, '');
  }
  return null;
}

/** The `signature:` block of an MLmodel file, as its YAML text (empty when absent). */
export function signatureOf(mlmodel: string): string {
  const lines = mlmodel.split('\n');
  const start = lines.findIndex(l => /^signature:\s*$/.test(l));
  if (start < 0) {
    return '';
  }
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line && !/^\s/.test(line)) {
      break;
    }
    out.push(line.replace(/^ {2}/, ''));
  }
  return out.join('\n').trim();
}

export function snippets(url: string): { curl: string; python: string } {
  const body = '{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}';
  return {
    curl:
      '# Jupyter authenticates the call: pass the server token (jupyter server list shows it)\n' +
      `curl -X POST '${url}' \\\n` +
      '  -H "Authorization: token $JUPYTER_TOKEN" \\\n' +
      "  -H 'Content-Type: application/json' \\\n" +
      `  -d '${body}'`,
    python:
      'import os, requests\n' +
      '# Jupyter authenticates the call: pass the server token (jupyter server list shows it)\n' +
      'r = requests.post(\n' +
      `    "${url}",\n` +
      '    headers={"Authorization": f"token {os.environ[\'JUPYTER_TOKEN\']}"},\n' +
      '    json={"dataframe_split": {"columns": ["x"], "data": [[1.0]]}},\n' +
      ')\n' +
      'print(r.json())'
  };
}
