// @vitest-environment jsdom
import { Widget } from '@lumino/widgets';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SELECTED, RunTable } from '../src/runtable';
import { availableColumns } from '../src/tablemodel';
import { run } from './helpers';

const many = Array.from({ length: 10_000 }, (_, i) =>
  run({
    run_id: `r${i}`,
    run_name: i === 3 ? '<img src=x onerror=alert(1)>' : `run ${i}`,
    params: { g: String(i % 3) },
    metrics: { loss: i / 10_000 }
  })
);

function attached(opened: string[] = []): RunTable {
  const table = new RunTable({ openRun: r => opened.push(r.run_id) });
  Widget.attach(table, document.body);
  table.setColumns(availableColumns(many.slice(0, 3)));
  table.setRuns(many);
  return table;
}

describe('RunTable', () => {
  afterEach(() => {
    document.body.replaceChildren();
  });

  it('puts only the rows in sight in the DOM', () => {
    const table = attached();
    const rows = table.node.querySelectorAll('.nbtrack-xp-run');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(100);
    const grid = table.node.querySelector('[role="grid"]')!;
    expect(grid.getAttribute('aria-rowcount')).toBe('10000');
    expect(table.node.querySelector('img')).toBeNull();
    expect(table.node.textContent).toContain('<img src=x onerror=alert(1)>');
  });

  it('selects with Space, moves with arrows, opens with Enter', () => {
    const opened: string[] = [];
    const table = attached(opened);
    const grid = table.node.querySelector<HTMLElement>('[role="grid"]')!;
    const key = (k: string): void => {
      grid.dispatchEvent(
        new KeyboardEvent('keydown', { key: k, bubbles: true })
      );
    };
    key(' ');
    key('ArrowDown');
    key(' ');
    expect(table.selected).toEqual(['r0', 'r1']);
    key(' ');
    expect(table.selected).toEqual(['r0']);
    key('Enter');
    expect(opened).toEqual(['r1']);
    key('End');
    expect(grid.getAttribute('aria-activedescendant')).toMatch(/row-9999$/);
  });

  it('keeps the selection across a new filter, and caps it', () => {
    const table = attached();
    table.select(['r5', 'r6']);
    table.setRuns(many.slice(0, 2));
    expect(table.selectedRuns().map(r => r.run_id)).toEqual(['r5', 'r6']);
    table.setRuns(many);
    table.select(many.slice(0, 50).map(r => r.run_id));
    expect(table.selected.length).toBe(MAX_SELECTED);
  });

  it('sorts by a header button and groups by a param', () => {
    const table = attached();
    const loss = [
      ...table.node.querySelectorAll<HTMLButtonElement>('.nbtrack-xp-sort')
    ].find(b => b.textContent === 'loss')!;
    loss.click(); // metrics sort descending first
    expect(table.displayedRuns[0].run_id).toBe('r9999');
    table.setGroup('g');
    const groups = table.node.querySelectorAll('.nbtrack-xp-group');
    expect(groups[0].textContent).toContain('g = 0 (3334)');
  });
});
