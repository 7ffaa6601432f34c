// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { NbtrackApi } from '../src/api';
import { RunStatusItem, runTitle, statusTexts } from '../src/statusbar';

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

describe('statusTexts', () => {
  const at = (value: number, timestamp: number, step = 0) => ({
    value,
    step,
    timestamp,
    min: value,
    max: value
  });
  const details = {
    loss: at(0.4213, 1000, 12),
    'system/process_cpu_percentage': at(250, 5000),
    'system/process_memory_rss_megabytes': at(2048, 5000)
  };

  it("shows the run's own last metric and the kernel's usage", () => {
    expect(statusTexts(details, true)).toEqual({
      metric: 'loss=0.4213 (step 12)',
      usage: 'CPU 250% · RSS 2.0 GB'
    });
  });

  it('hides the usage when the setting is off', () => {
    expect(statusTexts(details, false)).toEqual({
      metric: 'loss=0.4213 (step 12)',
      usage: ''
    });
  });

  it('shows nothing extra without system metrics', () => {
    expect(statusTexts({ loss: at(1, 1) }, true).usage).toBe('');
    expect(statusTexts(undefined, true)).toEqual({ metric: '', usage: '' });
  });
});

describe('RunStatusItem', () => {
  it('shows the usage span only while the setting is on', () => {
    const api = new NbtrackApi('http://localhost/', () =>
      Promise.reject(new Error('no server in this test'))
    );
    const item = new RunStatusItem({
      api,
      onClick: () => undefined,
      showSystemUsage: false
    });
    const usage = item.node.querySelector('.nbtrack-status-usage');
    expect(usage).not.toBeNull();
    expect(item.showSystemUsage).toBe(false);
    item.showSystemUsage = true;
    expect(item.showSystemUsage).toBe(true);
    expect(usage?.textContent).toBe('');
    item.dispose();
  });
});
