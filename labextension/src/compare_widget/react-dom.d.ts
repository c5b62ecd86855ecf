// react-dom ships without types and the sidebar mounts through JupyterLab's ReactWidget: only
// what the notebook widget's entry point uses.
declare module 'react-dom/client' {
  import { ReactNode } from 'react';
  export interface Root {
    render(children: ReactNode): void;
    unmount(): void;
  }
  export function createRoot(container: Element): Root;
}
