import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatElapsed,
  formatMetric,
  formatMetricEntry,
  formatShortTime,
  formatTime,
  isFinalStatus,
  lastLoggedMetric,
  metricTitle,
  MISSING_METRIC,
  NON_FINITE_METRIC,
  repeatedNames,
  shortRunId,
  statusGlyph,
  statusSlug
} from '../src/format';

describe('formatElapsed', () => {
  it.each([
    [0, '0s'],
    [4_999, '4s'],
    [65_000, '1m 05s'],
    [3_720_000, '1h 02m'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d 4h']
  ])('%i ms -> %s', (ms, text) => {
    expect(formatElapsed(1000, 1000 + ms)).toBe(text);
  });

  it('never shows a negative duration (clock skew)', () => {
    expect(formatElapsed(5000, 1000)).toBe('0s');
  });
});

describe('formatMetric', () => {
  it.each([
    [0.93124, '0.9312'],
    [12.3456, '12.35'],
    [1234.5678, '1235'],
    [42, '42'],
    [0.5, '0.5'],
    [1234567.8, '1.235e+6'],
    [0.0000123, '1.23e-5'],
    [-0.25, '-0.25'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, '∞'],
    [Number.NEGATIVE_INFINITY, '-∞']
  ])('%d -> %s', (value, text) => {
    expect(formatMetric(value)).toBe(text);
  });

  it('shows the server null (NaN, ±∞) as NaN and a missing value as a dash', () => {
    expect(formatMetric(null)).toBe(NON_FINITE_METRIC);
    expect(NON_FINITE_METRIC).toBe('NaN');
    expect(formatMetric(undefined)).toBe(MISSING_METRIC);
    expect(MISSING_METRIC).toBe('–');
  });

  it('never throws on a malformed value', () => {
    for (const bad of ['0.5', {}, [], true]) {
      expect(formatMetric(bad as unknown as number)).toBe(MISSING_METRIC);
    }
  });

  it('explains values in tooltips', () => {
    expect(metricTitle(0.123456789)).toBe('0.123456789');
    expect(metricTitle(null)).toBe('not a finite number (NaN or ±∞)');
    expect(metricTitle(Number.NaN)).toBe('not a finite number (NaN or ±∞)');
    expect(metricTitle(undefined)).toBe('not logged');
  });
});

describe('lastLoggedMetric', () => {
  const detail = (timestamp: number, step: number, value = 1) => ({
    value,
    step,
    timestamp,
    min: value,
    max: value
  });

  it('picks the latest timestamp, then the highest step', () => {
    expect(
      lastLoggedMetric({ loss: detail(10, 3), acc: detail(20, 1) })?.key
    ).toBe('acc');
    expect(
      lastLoggedMetric({ loss: detail(10, 3), acc: detail(10, 1) })?.key
    ).toBe('loss');
  });

  it('is null without metrics', () => {
    expect(lastLoggedMetric({})).toBeNull();
    expect(lastLoggedMetric(undefined)).toBeNull();
  });

  it('handles null (non-finite) values from the server', () => {
    const nan = { value: null, step: 4, timestamp: 30, min: null, max: null };
    const last = lastLoggedMetric({ loss: detail(10, 3), bad: nan });
    expect(last?.key).toBe('bad');
    expect(formatMetricEntry('bad', nan)).toBe('bad=NaN (step 4)');
  });

  it('formats for the status bar', () => {
    expect(formatMetricEntry('loss', detail(1, 12, 0.42133))).toBe(
      'loss=0.4213 (step 12)'
    );
  });
});

describe('status and sizes', () => {
  it('slugs statuses for data-status', () => {
    expect(statusSlug('RUNNING')).toBe('running');
    expect(statusSlug('KILLED')).toBe('killed');
    expect(
      ['RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SCHEDULED'].map(statusGlyph)
    ).toEqual(['▶', '✓', '✕', '■', '…']);
    expect(
      repeatedNames([{ run_name: 'a' }, { run_name: 'b' }, { run_name: 'a' }])
    ).toEqual(new Set(['a']));
    expect(shortRunId('0123456789abcdef')).toBe('01234567');
  });

  it('knows final statuses', () => {
    expect(isFinalStatus('RUNNING')).toBe(false);
    expect(isFinalStatus('SCHEDULED')).toBe(false);
    for (const s of ['FINISHED', 'FAILED', 'KILLED']) {
      expect(isFinalStatus(s)).toBe(true);
    }
  });

  it('formats byte counts', () => {
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(1234)).toBe('1.2 kB');
    expect(formatBytes(3_400_000)).toBe('3.4 MB');
    expect(formatBytes(null)).toBe('');
  });

  it('formats start times short: time today, date otherwise', () => {
    const now = new Date(2024, 5, 10, 18, 0).getTime();
    expect(formatShortTime(new Date(2024, 5, 10, 9, 5).getTime(), now)).toBe(
      '09:05'
    );
    expect(formatShortTime(new Date(2024, 0, 2, 9, 5).getTime(), now)).toBe(
      '01-02'
    );
    expect(formatShortTime(new Date(2023, 5, 10, 9, 5).getTime(), now)).toBe(
      '2023-06-10'
    );
    expect(formatShortTime(null, now)).toBe('');
  });

  it('formats times in local time, empty when missing', () => {
    expect(formatTime(null)).toBe('');
    expect(formatTime(new Date(2024, 5, 10, 14, 3).getTime())).toBe(
      '2024-06-10 14:03'
    );
  });
});
