/**
 * Pure logic of the Experiments view's run table: which columns exist, sorting
 * and grouping by a param. All runs of the view are in memory (10,000 runs are a
 * few MB), so sorting and grouping never ask the server again; the filter does.
 */
import { IRunSummary } from './tokens';

/** What a column shows. */
export type ColumnKind = 'attr' | 'param' | 'metric' | 'tag';

/** One column of the table: `id` is `kind:name` (e.g. `metric:loss`). */
export interface IColumn {
  id: string;
  kind: ColumnKind;
  name: string;
  label: string;
}

/** The attribute columns, always offered. */
export const ATTRIBUTE_COLUMNS: IColumn[] = [
  { id: 'attr:status', kind: 'attr', name: 'status', label: 'Status' },
  { id: 'attr:run_name', kind: 'attr', name: 'run_name', label: 'Run' },
  { id: 'attr:start_time', kind: 'attr', name: 'start_time', label: 'Started' },
  { id: 'attr:duration', kind: 'attr', name: 'duration', label: 'Duration' },
  { id: 'attr:notebook', kind: 'attr', name: 'notebook', label: 'Notebook' },
  { id: 'attr:run_id', kind: 'attr', name: 'run_id', label: 'Run id' }
];

/** Attribute columns shown until the user chooses. */
export const DEFAULT_ATTRIBUTES = [
  'attr:status',
  'attr:run_name',
  'attr:start_time',
  'attr:duration'
];

/** Every column the runs offer: attributes, then params, metrics and tags by name. */
export function availableColumns(runs: readonly IRunSummary[]): IColumn[] {
  const params = new Set<string>();
  const metrics = new Set<string>();
  const tags = new Set<string>();
  for (const run of runs) {
    for (const key in run.params) {
      params.add(key);
    }
    for (const key in run.metrics) {
      metrics.add(key);
    }
    for (const key in run.tags) {
      if (!key.startsWith('nbtrack.') && !key.startsWith('mlflow.')) {
        tags.add(key);
      }
    }
  }
  const of = (
    kind: ColumnKind,
    names: Set<string>,
    prefix: string
  ): IColumn[] =>
    [...names].sort().map(name => ({
      id: `${kind}:${name}`,
      kind,
      name,
      label: `${prefix}${name}`
    }));
  return [
    ...ATTRIBUTE_COLUMNS,
    ...of('metric', metrics, ''),
    ...of('param', params, ''),
    ...of('tag', tags, 'tag ')
  ];
}

/**
 * The columns shown by default: the attributes above, every metric (up to 8) and
 * the params that differ between runs (up to 8).
 */
export function defaultColumns(
  runs: readonly IRunSummary[],
  columns: readonly IColumn[]
): string[] {
  const metrics = columns.filter(c => c.kind === 'metric').slice(0, 8);
  const params = columns
    .filter(c => c.kind === 'param')
    .filter(c => new Set(runs.map(r => r.params[c.name])).size > 1)
    .slice(0, 8);
  return [
    ...DEFAULT_ATTRIBUTES,
    ...metrics.map(c => c.id),
    ...params.map(c => c.id)
  ];
}

/** A cell's raw value: number for metrics and times, string otherwise, undefined when absent. */
export function cellValue(
  run: IRunSummary,
  column: IColumn,
  now: number = Date.now()
): string | number | null | undefined {
  switch (column.kind) {
    case 'metric':
      return run.metrics[column.name];
    case 'param':
      return run.params[column.name];
    case 'tag':
      return run.tags[column.name];
    default:
      switch (column.name) {
        case 'start_time':
          return run.start_time;
        case 'duration':
          return (run.end_time ?? now) - run.start_time;
        case 'notebook':
          return run.notebook ?? undefined;
        default:
          return (run as unknown as Record<string, string>)[column.name];
      }
  }
}

/** Sort order: a column and a direction. */
export interface ISort {
  column: IColumn;
  descending: boolean;
}

/**
 * Compare two cell values: absent values last whatever the direction, numbers
 * numerically (a param that parses as a number counts as one), else text.
 */
export function compareValues(
  a: string | number | null | undefined,
  b: string | number | null | undefined,
  descending: boolean
): number {
  const missingA = a === undefined || a === null || a === '';
  const missingB = b === undefined || b === null || b === '';
  if (missingA || missingB) {
    return missingA === missingB ? 0 : missingA ? 1 : -1;
  }
  const na = typeof a === 'number' ? a : Number(a);
  const nb = typeof b === 'number' ? b : Number(b);
  let order: number;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) {
    order = na - nb;
  } else {
    order = String(a).localeCompare(String(b), undefined, { numeric: true });
  }
  return descending ? -order : order;
}

/** The runs sorted (stable: ties keep the server's order). */
export function sortRuns(
  runs: readonly IRunSummary[],
  sort: ISort | null,
  now: number = Date.now()
): IRunSummary[] {
  if (sort === null) {
    return [...runs];
  }
  const keyed = runs.map((run, index) => ({
    run,
    index,
    value: cellValue(run, sort.column, now)
  }));
  keyed.sort(
    (x, y) =>
      compareValues(x.value, y.value, sort.descending) || x.index - y.index
  );
  return keyed.map(k => k.run);
}

/** One group of runs sharing a param value ('' for runs without the param). */
export interface IRunGroup {
  value: string;
  runs: IRunSummary[];
}

/**
 * Runs grouped by a param's value, groups ordered by value (numbers numerically,
 * runs without the param last), each group keeping the runs' order.
 */
export function groupByParam(
  runs: readonly IRunSummary[],
  param: string
): IRunGroup[] {
  const groups = new Map<string, IRunSummary[]>();
  for (const run of runs) {
    const value = run.params[param] ?? '';
    let group = groups.get(value);
    if (!group) {
      group = [];
      groups.set(value, group);
    }
    group.push(run);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => compareValues(a, b, false))
    .map(([value, members]) => ({ value, runs: members }));
}

/** A row of the (virtualized) table: a group header or a run. */
export type TableRow =
  | { type: 'group'; group: IRunGroup; collapsed: boolean }
  | { type: 'run'; run: IRunSummary };

/** The rows to display: with a group param, a header before each group's runs. */
export function tableRows(
  runs: readonly IRunSummary[],
  groupParam: string | null,
  collapsed: ReadonlySet<string> = new Set()
): TableRow[] {
  if (!groupParam) {
    return runs.map(run => ({ type: 'run', run }));
  }
  const rows: TableRow[] = [];
  for (const group of groupByParam(runs, groupParam)) {
    const isCollapsed = collapsed.has(group.value);
    rows.push({ type: 'group', group, collapsed: isCollapsed });
    if (!isCollapsed) {
      for (const run of group.runs) {
        rows.push({ type: 'run', run });
      }
    }
  }
  return rows;
}
