import { describe, expect, it } from 'vitest';
import { formatLabels, parseLabels } from './labels';

describe('labels', () => {
  it('writes one key=value per line, sorted by key', () => {
    expect(formatLabels({ zone: 'a', rack: 'r1' })).toBe('rack=r1\nzone=a');
    expect(formatLabels({})).toBe('');
  });

  it('reads lines back, skipping blank ones and trimming around the =', () => {
    expect(parseLabels('rack = r1\n\n  zone=a  \r\n')).toEqual({ labels: { rack: 'r1', zone: 'a' } });
    expect(parseLabels('')).toEqual({ labels: {} });
  });

  it('splits at the first =, so a value may hold more', () => {
    expect(parseLabels('note=a=b')).toEqual({ labels: { note: 'a=b' } });
  });

  it('keeps an empty value', () => {
    expect(parseLabels('gpu=')).toEqual({ labels: { gpu: '' } });
  });

  it('names a line without a key', () => {
    expect(parseLabels('rack=r1\njust text')).toEqual({ error: 'Line 2: write each label as key=value.' });
    expect(parseLabels('=x')).toEqual({ error: 'Line 1: write each label as key=value.' });
  });

  it('names a key given twice', () => {
    expect(parseLabels('rack=r1\nrack=r2')).toEqual({ error: 'Line 2: the label "rack" is given twice.' });
  });

  it('leaves what a key may be to the server', () => {
    expect(parseLabels('Not Lower=x')).toEqual({ labels: { 'Not Lower': 'x' } });
  });
});
