// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { runTitle } from '../src/statusbar';

describe('runTitle', () => {
  const active = {
    run_id: 'r1',
    run_name: 'lr-sweep',
    experiment_id: '3',
    start_time: 0,
    tracking_uri: ''
  };

  it('names the run and its experiment', () => {
    expect(runTitle({ ...active, experiment_name: 'tuning' })).toBe(
      'nbtrack run "lr-sweep" in experiment "tuning" (click to open)'
    );
  });

  it('falls back to the experiment id', () => {
    expect(runTitle({ ...active, experiment_name: null })).toBe(
      'nbtrack run "lr-sweep" in experiment "id 3" (click to open)'
    );
  });
});
