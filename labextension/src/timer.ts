/**
 * One pending timeout or interval that can be restarted and stopped: the
 * debounce of the snapshot channel, the status bar's clock and the delayed
 * loading indicators share it.
 */

/** A timer holding at most one pending callback at a time. */
export class Timer {
  /** Whether a callback is pending (a timeout not yet fired, or an interval). */
  get isActive(): boolean {
    return this._handle !== null;
  }

  /** Run `callback` once after `ms`, replacing anything pending. */
  once(ms: number, callback: () => void): void {
    this.stop();
    this._handle = setTimeout(() => {
      this._handle = null;
      callback();
    }, ms);
  }

  /** Run `callback` every `ms` until stopped, replacing anything pending. */
  every(ms: number, callback: () => void): void {
    this.stop();
    this._handle = setInterval(callback, ms);
  }

  /** Cancel what is pending (nothing happens when nothing is). */
  stop(): void {
    if (this._handle !== null) {
      // clearTimeout and clearInterval share one id pool (HTML and Node alike).
      clearTimeout(this._handle);
      this._handle = null;
    }
  }

  private _handle: ReturnType<typeof setTimeout> | null = null;
}
