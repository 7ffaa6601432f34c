/**
 * The filter box of the runs sidebar: MLflow's search grammar
 * (`metrics.acc > 0.9 and params.lr = '0.01'`), checked by the server.
 *
 * A filter the server rejects (400) shows the server's message under the box and
 * leaves the table as it was; the last accepted filter keeps being polled.
 */
import { ApiError } from './api';
import { h } from './dom';

/** Runs a filter; rejects with an ApiError(400) when the server refuses it. */
export type FilterRunner = (filter: string) => Promise<void>;

/** Text input + error line; applies on Enter and when the input loses focus. */
export class FilterBox {
  /** The box (input and error line), to add to the sidebar. */
  readonly node: HTMLDivElement;
  readonly input: HTMLInputElement;
  readonly error: HTMLDivElement;

  constructor(private readonly _run: FilterRunner) {
    this.input = h('input', {
      className: 'nbtrack-filter jp-mod-styled',
      attrs: {
        type: 'search',
        placeholder: "metrics.acc > 0.9 and params.lr = '0.01'",
        'aria-label': 'Filter runs',
        spellcheck: 'false'
      }
    });
    this.error = h('div', {
      className: 'nbtrack-filter-error',
      attrs: { role: 'alert', 'aria-live': 'polite' }
    });
    this.error.hidden = true;
    this.node = h('div', { className: 'nbtrack-filter-box' }, [
      this.input,
      this.error
    ]);
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        void this.apply();
      }
    });
    this.input.addEventListener('change', () => void this.apply());
  }

  /** The last filter the server accepted ('' at first). */
  get current(): string {
    return this._current;
  }

  /**
   * Apply the text of the box: on success it becomes the current filter and the
   * error line is cleared; a 400 shows the server's message and keeps the old filter.
   * Other errors propagate (the sidebar shows them as a notice).
   */
  async apply(text: string = this.input.value): Promise<boolean> {
    const filter = text.trim();
    try {
      await this._run(filter);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        this.showError(error.message);
        return false;
      }
      throw error;
    }
    this._current = filter;
    this.showError(null);
    return true;
  }

  /** Show (or, with null, hide) an error under the box. */
  showError(message: string | null): void {
    this.error.textContent = message ?? '';
    this.error.hidden = message === null;
    if (message === null) {
      this.input.removeAttribute('aria-invalid');
    } else {
      this.input.setAttribute('aria-invalid', 'true');
    }
  }

  private _current = '';
}
