// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import {
  cellLinkAt,
  chooseNotebook,
  enhanceCellLinks,
  notFoundMessage,
  readCellLink
} from '../src/links';

/** An output area holding `html` (as the kernel's trusted text/html renders). */
function output(html: string): HTMLElement {
  const area = document.createElement('div');
  area.className = 'jp-OutputArea-output';
  // Test fixture only: the kernel's panel HTML as JupyterLab renders it.
  area.append(document.createRange().createContextualFragment(html));
  return area;
}

const LINK =
  '<li><b>loss</b> in run a: <a class="nbtrack-cell-link" data-nbtrack-cell-id="c-1"' +
  ' data-nbtrack-run-id="r1"><span>In [3]</span></a> steps 0-5</li>';

describe('cellLinkAt / readCellLink', () => {
  it('finds the link from an element inside it', () => {
    const area = output(LINK);
    const link = cellLinkAt(area.querySelector('span'));
    expect(link).not.toBeNull();
    expect(readCellLink(link!)).toEqual({ cellId: 'c-1', runId: 'r1' });
  });

  it('ignores clicks elsewhere and links outside outputs', () => {
    const area = output(LINK);
    expect(cellLinkAt(area.querySelector('b'))).toBeNull();
    expect(cellLinkAt(null)).toBeNull();
    const outside = document.createElement('div');
    outside.append(document.createRange().createContextualFragment(LINK));
    expect(cellLinkAt(outside.querySelector('a'))).toBeNull();
  });

  it('ignores links whose data attributes were sanitized away', () => {
    const area = output('<a class="nbtrack-cell-link">In [3]</a>');
    expect(cellLinkAt(area.querySelector('a'))).toBeNull();
  });

  it('needs a cell id; the run id is optional', () => {
    const a = document.createElement('a');
    a.setAttribute('data-nbtrack-cell-id', ' ');
    expect(readCellLink(a)).toBeNull();
    a.setAttribute('data-nbtrack-cell-id', 'c-2');
    expect(readCellLink(a)).toEqual({ cellId: 'c-2', runId: null });
  });
});

describe('chooseNotebook', () => {
  const holder = { path: 'compare.ipynb', cellIds: ['x', undefined, 'c-1'] };
  const train = { path: 'dir/train.ipynb', cellIds: ['c-9'] };
  const copy = { path: 'copy.ipynb', cellIds: ['c-9'] };

  it('prefers the notebook holding the link', () => {
    expect(chooseNotebook('c-1', holder, [train], 'dir/train.ipynb')).toBe(
      holder
    );
  });

  it("falls back to the run's notebook when open and holding the cell", () => {
    expect(
      chooseNotebook('c-9', holder, [copy, holder, train], 'dir/train.ipynb')
    ).toBe(train);
  });

  it('gives null when the cell is nowhere it may be', () => {
    expect(chooseNotebook('c-9', holder, [copy], 'dir/train.ipynb')).toBe(null);
    expect(chooseNotebook('c-7', holder, [train], 'dir/train.ipynb')).toBe(
      null
    );
    expect(chooseNotebook('c-9', holder, [train], null)).toBe(null);
    expect(chooseNotebook('c-9', null, [], null)).toBe(null);
  });
});

describe('notFoundMessage', () => {
  it("names the run's notebook when known", () => {
    expect(notFoundMessage('a/train.ipynb', false)).toBe(
      'That cell is not in any open notebook. It ran in a/train.ipynb.'
    );
    expect(notFoundMessage(null, false)).toBe(
      'That cell is not in any open notebook.'
    );
    expect(notFoundMessage('a/train.ipynb', true)).toContain(
      'no longer in a/train.ipynb'
    );
  });
});

describe('enhanceCellLinks', () => {
  it('makes followable links focusable links, and only those', () => {
    const area = output(LINK + '<a class="nbtrack-cell-link">In [4]</a>');
    enhanceCellLinks(area);
    const [good, stripped] = Array.from(area.querySelectorAll('a'));
    expect(good.getAttribute('tabindex')).toBe('0');
    expect(good.getAttribute('role')).toBe('link');
    expect(good.title).toBe('Go to this cell');
    expect(stripped.hasAttribute('tabindex')).toBe(false);
    expect(stripped.hasAttribute('role')).toBe(false);
  });

  it('enhances a link that is itself the added node', () => {
    const link = output(LINK).querySelector('a')!;
    link.setAttribute('tabindex', '-1');
    enhanceCellLinks(link);
    expect(link.getAttribute('tabindex')).toBe('-1');
    expect(link.getAttribute('role')).toBe('link');
  });
});
