import { describe, expect, it } from 'vitest';
import {
  availableColumns,
  compareValues,
  defaultColumns,
  groupByParam,
  sortRuns,
  tableRows
} from '../src/tablemodel';
import { run } from './helpers';

const runs = [
  run({
    run_id: 'a',
    params: { lr: '0.1', opt: 'adam' },
    metrics: { loss: 0.5 }
  }),
  run({
    run_id: 'b',
    params: { lr: '0.01', opt: 'sgd' },
    metrics: { loss: 0.2, acc: 0.9 }
  }),
  run({
    run_id: 'c',
    params: { lr: '1e-3', opt: 'adam' },
    metrics: { loss: null }
  }),
  run({
    run_id: 'd',
    params: { opt: 'adam' },
    metrics: {},
    tags: { team: 'x', 'nbtrack.notebook': '/a' }
  })
];

describe('columns', () => {
  it('offers attributes, then metrics, params and user tags by name', () => {
    const ids = availableColumns(runs).map(c => c.id);
    expect(ids.slice(0, 2)).toEqual(['attr:status', 'attr:run_name']);
    expect(ids.filter(i => !i.startsWith('attr:'))).toEqual([
      'metric:acc',
      'metric:loss',
      'param:lr',
      'param:opt',
      'tag:team'
    ]);
  });

  it('shows every metric and the params that differ by default', () => {
    const chosen = defaultColumns(runs, availableColumns(runs));
    expect(chosen).toContain('metric:loss');
    expect(chosen).toContain('param:lr');
    const same = [
      run({ params: { k: '1' } }),
      run({ run_id: 'x', params: { k: '1' } })
    ];
    expect(defaultColumns(same, availableColumns(same))).not.toContain(
      'param:k'
    );
  });
});

describe('sorting', () => {
  it('puts missing and NaN values last in both directions', () => {
    expect(compareValues(undefined, 1, false)).toBeGreaterThan(0);
    expect(compareValues(undefined, 1, true)).toBeGreaterThan(0);
    expect(compareValues(null, 1, true)).toBeGreaterThan(0);
  });

  it('sorts params that parse as numbers numerically', () => {
    const column = availableColumns(runs).find(c => c.id === 'param:lr')!;
    const up = sortRuns(runs, { column, descending: false }).map(r => r.run_id);
    expect(up).toEqual(['c', 'b', 'a', 'd']);
    const down = sortRuns(runs, { column, descending: true }).map(
      r => r.run_id
    );
    expect(down).toEqual(['a', 'b', 'c', 'd']);
  });

  it('sorts metrics, keeping ties in the server order', () => {
    const column = availableColumns(runs).find(c => c.id === 'metric:loss')!;
    expect(
      sortRuns(runs, { column, descending: false }).map(r => r.run_id)
    ).toEqual(['b', 'a', 'c', 'd']);
    expect(sortRuns(runs, null).map(r => r.run_id)).toEqual([
      'a',
      'b',
      'c',
      'd'
    ]);
  });
});

describe('grouping', () => {
  it('groups by a param value, runs without it last', () => {
    const groups = groupByParam(runs, 'lr');
    expect(groups.map(g => g.value)).toEqual(['1e-3', '0.01', '0.1', '']);
    expect(
      groupByParam(runs, 'opt').map(g => [g.value, g.runs.length])
    ).toEqual([
      ['adam', 3],
      ['sgd', 1]
    ]);
  });

  it('puts a header row before each group; a folded group hides its runs', () => {
    const rows = tableRows(runs, 'opt');
    expect(
      rows.map(r => (r.type === 'group' ? `#${r.group.value}` : r.run.run_id))
    ).toEqual(['#adam', 'a', 'c', 'd', '#sgd', 'b']);
    const folded = tableRows(runs, 'opt', new Set(['adam']));
    expect(folded.length).toBe(3);
    expect(tableRows(runs, null).length).toBe(4);
  });
});
