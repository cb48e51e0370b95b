import { describe, expect, it } from 'vitest';
import { MAX_MANIFEST_BYTES } from './limits';
import { fileProblem, pathLabel, problemsOf, textProblem } from './manifestText';

describe('manifest text', () => {
  it('lists the refusal in the order the document reads, indices by number, the whole manifest first', () => {
    const problems = problemsOf({
      'inputs[10].name': 'repeats the input name.',
      'sizing.vcpus': 'must have min <= default <= max.',
      'inputs[2].default': 'is greater than max.',
      '': 'is not valid YAML.',
      'inputs[2]': 'does not fit its kind or type.',
    });
    expect(problems.map((p) => p.path)).toEqual(['', 'inputs[2]', 'inputs[2].default', 'inputs[10].name', 'sizing.vcpus']);
    expect(problems[2].reason).toBe('is greater than max.');
    expect(pathLabel('')).toBe('The manifest');
    expect(pathLabel('inputs[2]')).toBe('inputs[2]');
  });

  it('refuses an empty text and one larger than the server takes, counting bytes not characters', () => {
    expect(textProblem('  \n')).toMatch(/Paste a manifest/);
    expect(textProblem('kind: profile')).toBeNull();
    expect(textProblem('é'.repeat(MAX_MANIFEST_BYTES / 2))).toBeNull();
    expect(textProblem('é'.repeat(MAX_MANIFEST_BYTES / 2 + 1))).toMatch(/65538 bytes; the server takes at most 65536/);
  });

  it('refuses a file too large before reading it', () => {
    expect(fileProblem({ name: 'big.yaml', size: MAX_MANIFEST_BYTES + 1 })).toMatch(/big.yaml is 65537 bytes/);
    expect(fileProblem({ name: 'ok.yaml', size: 100 })).toBeNull();
  });
});
