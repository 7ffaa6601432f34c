/**
 * Pure logic of the runs table: grouping (current notebook first) and which
 * metrics are shown as columns.
 */
import { IRunSummary } from './tokens';

/** Runs of one group of the table. */
export interface IRunGroups {
  /** Runs recorded by the notebook the sidebar follows. */
  current: IRunSummary[];
  /** The other runs (same experiment when one is selected). */
  others: IRunSummary[];
}

/** Whether a run belongs to `notebook` (the server's flag, or the same path). */
export function isCurrentNotebookRun(
  run: IRunSummary,
  notebook: string | null
): boolean {
  return (
    run.current_notebook ||
    (notebook !== null && notebook !== '' && run.notebook === notebook)
  );
}

/**
 * Split runs into the current notebook's and the others, each keeping the
 * server's order (order_by), so pages appended later stay grouped.
 */
export function groupRuns(
  runs: readonly IRunSummary[],
  notebook: string | null
): IRunGroups {
  const current: IRunSummary[] = [];
  const others: IRunSummary[] = [];
  for (const run of runs) {
    (isCurrentNotebookRun(run, notebook) ? current : others).push(run);
  }
  return { current, others };
}

/** The runs in display order: current notebook first, then the others. */
export function orderRuns(
  runs: readonly IRunSummary[],
  notebook: string | null
): IRunSummary[] {
  const { current, others } = groupRuns(runs, notebook);
  return [...current, ...others];
}

/**
 * The metric keys shown as columns: the `limit` keys logged by most runs
 * (ties broken alphabetically), so a table of one experiment shows its key metrics.
 */
export function keyMetrics(runs: readonly IRunSummary[], limit = 3): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics ?? {})) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([key]) => key);
}

/** Append a page to the runs already shown, dropping duplicates (a run may move pages). */
export function mergePages(
  shown: readonly IRunSummary[],
  page: readonly IRunSummary[]
): IRunSummary[] {
  const seen = new Set(shown.map(run => run.run_id));
  return [...shown, ...page.filter(run => !seen.has(run.run_id))];
}
