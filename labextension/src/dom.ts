/**
 * DOM construction helpers. Every string goes in through textContent or an
 * attribute, never as HTML: run names, params and cell sources are user data.
 */

/** Attributes and content of {@link h}. */
export interface IElementOptions {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
  dataset?: Record<string, string>;
}

/** Create an element with classes, text (as textContent), attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: IElementOptions = {},
  children: readonly Node[] = []
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className) {
    element.className = options.className;
  }
  if (options.text !== undefined) {
    element.textContent = options.text;
  }
  if (options.title !== undefined) {
    element.title = options.title;
  }
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    element.setAttribute(name, value);
  }
  for (const [name, value] of Object.entries(options.dataset ?? {})) {
    element.dataset[name] = value;
  }
  for (const child of children) {
    element.appendChild(child);
  }
  return element;
}

/** A button running `onClick`; `label` is text. */
export function button(
  label: string,
  className: string,
  onClick: () => void,
  title?: string
): HTMLButtonElement {
  const element = h('button', {
    className: `jp-Button jp-mod-styled jp-mod-reject ${className}`,
    text: label,
    title,
    attrs: { type: 'button' }
  });
  element.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return element;
}

/** A table cell's content: text, or an element built with {@link h}. */
export type CellContent = string | Node;

/** A table of key/value pairs (params, tags, metric summaries). */
export function keyValueTable(
  className: string,
  rows: readonly (readonly CellContent[])[],
  header?: readonly string[]
): HTMLTableElement {
  const table = h('table', { className: `nbtrack-table ${className}` });
  if (header) {
    const tr = h('tr');
    for (const cell of header) {
      tr.appendChild(h('th', { text: cell }));
    }
    table.appendChild(h('thead', {}, [tr]));
  }
  const body = h('tbody');
  for (const row of rows) {
    const tr = h('tr');
    for (const cell of row) {
      tr.appendChild(
        typeof cell === 'string' ? h('td', { text: cell }) : h('td', {}, [cell])
      );
    }
    body.appendChild(tr);
  }
  table.appendChild(body);
  return table;
}

/** Remove every child of `element`. */
export function clear(element: Element): void {
  element.replaceChildren();
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
