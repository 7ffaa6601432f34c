/**
 * Experiment names by id, fetched with GET experiments and cached per store.
 *
 * The frontend only knows which notebook selects a store (the server picks the
 * nearest `.nbtrack/` above the notebook's folder), so notebooks of one folder
 * share an entry. The sidebar, which lists experiments anyway, feeds the cache.
 */
import { NbtrackApi } from './api';
import { IExperiment } from './tokens';

/** The cache key of the store a notebook uses: its folder ('' for the root). */
export function storeKey(notebook: string | null | undefined): string {
  if (!notebook) {
    return '';
  }
  const slash = notebook.lastIndexOf('/');
  return slash < 0 ? '' : notebook.slice(0, slash);
}

/** Experiment names of each store, fetched once and refetched for an unknown id. */
export class ExperimentNames {
  constructor(private readonly _api: NbtrackApi) {}

  /** Record the experiments a request for `notebook` returned. */
  set(notebook: string | null, experiments: readonly IExperiment[]): void {
    this._names.set(
      storeKey(notebook),
      Promise.resolve(
        new Map(experiments.map(e => [e.experiment_id, e.name] as const))
      )
    );
  }

  /**
   * The name of `experimentId` in the store of `notebook`, or null when the
   * server does not know it (or cannot be reached: the caller shows the id).
   */
  async name(
    experimentId: string,
    notebook: string | null
  ): Promise<string | null> {
    const key = storeKey(notebook);
    let names = await this._load(key, notebook, false);
    if (!names.has(experimentId)) {
      // Created since the list was cached (or the cache holds a failed fetch).
      names = await this._load(key, notebook, true);
    }
    return names.get(experimentId) ?? null;
  }

  private _load(
    key: string,
    notebook: string | null,
    reload: boolean
  ): Promise<Map<string, string>> {
    let names = this._names.get(key);
    if (!names || reload) {
      names = this._api.experiments(notebook).then(
        experiments =>
          new Map(experiments.map(e => [e.experiment_id, e.name] as const)),
        () => new Map<string, string>()
      );
      this._names.set(key, names);
    }
    return names;
  }

  private readonly _names = new Map<string, Promise<Map<string, string>>>();
}
