/** The selection kept to what the table shows: a run that leaves the list leaves the selection. */

/** `selected` without the ids not in `shown`; the same object when nothing was dropped. */
export function pruneSelection(
  selected: ReadonlySet<string>,
  shown: ReadonlySet<string>
): ReadonlySet<string> {
  let drop = false;
  for (const id of selected) {
    if (!shown.has(id)) {
      drop = true;
      break;
    }
  }
  if (!drop) {
    return selected;
  }
  return new Set([...selected].filter(id => shown.has(id)));
}
