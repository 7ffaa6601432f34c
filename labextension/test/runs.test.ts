import { describe, expect, it } from 'vitest';
import { groupRuns, keyMetrics, mergePages, orderRuns } from '../src/runs';
import { run } from './helpers';

describe('ordering runs', () => {
  const runs = [
    run({ run_id: 'a', notebook: 'other.ipynb' }),
    run({ run_id: 'b', notebook: 'nb.ipynb', current_notebook: true }),
    run({ run_id: 'c', notebook: null }),
    run({ run_id: 'd', notebook: 'nb.ipynb' })
  ];

  it('puts the current notebook first, each group in server order', () => {
    expect(orderRuns(runs, 'nb.ipynb').map(r => r.run_id)).toEqual([
      'b',
      'd',
      'a',
      'c'
    ]);
  });

  it("trusts the server's flag when no notebook is followed", () => {
    const { current, others } = groupRuns(runs, null);
    expect(current.map(r => r.run_id)).toEqual(['b']);
    expect(others.map(r => r.run_id)).toEqual(['a', 'c', 'd']);
  });
});

describe('keyMetrics', () => {
  it('picks the metrics most runs logged, ties alphabetically', () => {
    const runs = [
      run({ metrics: { loss: 1, acc: 0.5, f1: 0.1 } }),
      run({ metrics: { loss: 1, acc: 0.5 } }),
      run({ metrics: { loss: 1, zeta: 2 } })
    ];
    expect(keyMetrics(runs)).toEqual(['loss', 'acc', 'f1']);
    expect(keyMetrics(runs, 1)).toEqual(['loss']);
    expect(keyMetrics([])).toEqual([]);
  });

  it('counts null (non-finite) values and survives runs without metrics', () => {
    const runs = [
      run({ metrics: { loss: null } }),
      run({ metrics: undefined as unknown as Record<string, number> })
    ];
    expect(keyMetrics(runs)).toEqual(['loss']);
  });
});

describe('mergePages', () => {
  it('appends a page without duplicating runs', () => {
    const merged = mergePages(
      [run({ run_id: 'a' }), run({ run_id: 'b' })],
      [run({ run_id: 'b' }), run({ run_id: 'c' })]
    );
    expect(merged.map(r => r.run_id)).toEqual(['a', 'b', 'c']);
  });
});
