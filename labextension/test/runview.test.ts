// @vitest-environment jsdom
import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';
import { ExperimentNames } from '../src/experiments';
import { RunView } from '../src/runview';
import { IRunDetail } from '../src/tokens';
import { apiWith, json, run } from './helpers';

function detail(overrides: Partial<IRunDetail> = {}): IRunDetail {
  return {
    ...run({ run_id: 'r1', experiment_id: '4', status: 'RUNNING' }),
    end_time: null,
    lifecycle_stage: 'active',
    metrics: { loss: null, acc: 0.5 },
    metrics_detail: {
      loss: { value: null, step: 3, timestamp: 5, min: 0.25, max: null },
      acc: { value: 0.5, step: 3, timestamp: 5, min: 0.5, max: 0.5 }
    },
    ...overrides
  };
}

function server(current: () => IRunDetail | Response) {
  return apiWith(path => {
    if (path === 'runs/r1') {
      const body = current();
      return body instanceof Response ? body : json({ run: body });
    }
    if (path === 'experiments') {
      return json({
        experiments: [
          {
            experiment_id: '4',
            name: 'tuning <b>',
            lifecycle_stage: 'active',
            creation_time: null,
            tags: {}
          }
        ]
      });
    }
    if (path === 'runs/r1/history') {
      return json({
        key: 'k',
        points: [{ step: 0, timestamp: 1, value: null }],
        downsampled: false,
        total_points: 1
      });
    }
    if (path === 'runs/r1/timeline') {
      return json({ cells: [] });
    }
    if (path === 'runs/r1/artifacts') {
      return json({ files: [] });
    }
    return json({ message: 'none' }, 404);
  });
}

describe('RunView', () => {
  let view: RunView | null = null;
  afterEach(() => view?.dispose());

  const make = (api: ReturnType<typeof server>['api']) =>
    new RunView({
      api,
      runId: 'r1',
      notebook: 'dir/a.ipynb',
      experiments: new ExperimentNames(api),
      renderChart: () => Promise.resolve(new Widget()),
      goToCell: () => Promise.resolve(null),
      openSnapshot: () => undefined
    });

  it('shows the experiment name with its id as tooltip', async () => {
    const { api } = server(() => detail());
    view = make(api);
    await view.refresh();
    const name = view.node.querySelector<HTMLElement>(
      '.nbtrack-experiment-name'
    );
    expect(name?.textContent).toBe('tuning <b>');
    expect(name?.title).toBe('experiment id 4');
    expect(view.node.querySelector('b')).toBeNull();
  });

  it('falls back to the id when the name is unknown', async () => {
    const { api } = server(() => detail({ experiment_id: '99' }));
    view = make(api);
    await view.refresh();
    expect(
      view.node.querySelector('.nbtrack-experiment-name')?.textContent
    ).toBe('99');
  });

  it('renders null metric values as NaN without failing', async () => {
    const { api } = server(() => detail());
    view = make(api);
    await view.refresh();
    const rows = Array.from(
      view.node.querySelectorAll('.nbtrack-metrics tbody tr')
    ).map(tr => Array.from(tr.children).map(td => td.textContent));
    expect(rows).toEqual([
      ['acc', '0.5', '3', '0.5', '0.5'],
      ['loss', 'NaN', '3', '0.25', 'NaN']
    ]);
    expect(view.node.querySelectorAll('.nbtrack-chart')).toHaveLength(2);
  });

  it('redraws nothing when a poll finds nothing new', async () => {
    const { api, seen } = server(() => detail());
    view = make(api);
    await view.refresh();
    const header = view.node.querySelector('.nbtrack-run-title');
    const histories = () =>
      seen.filter(r => r.url.pathname.endsWith('/history')).length;
    const before = histories();
    await view.refresh(false);
    expect(view.node.querySelector('.nbtrack-run-title')).toBe(header);
    expect(histories()).toBe(before);
  });

  it('keeps what it shows when a refresh fails, with the message', async () => {
    let answer: IRunDetail | Response = detail();
    const { api } = server(() => answer);
    view = make(api);
    await view.refresh();
    answer = json({ message: 'store is gone' }, 500);
    await view.refresh();
    const banner = view.node.querySelector<HTMLElement>('.nbtrack-run-banner');
    expect(banner?.hidden).toBe(false);
    expect(banner?.textContent).toBe('store is gone');
    expect(view.node.querySelector('.nbtrack-run-name')?.textContent).toBe(
      'run one'
    );
    answer = detail();
    await view.refresh();
    expect(banner?.hidden).toBe(true);
  });
});
