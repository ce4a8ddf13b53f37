import { existsSync, mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { runLocal } from '../scripts/local/main';
import { standInDefinition } from './local-standins/pipeline';

jest.setTimeout(600000);

describe('local mode (npm start), shortened', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'local-out-'));
  const lines: string[] = [];
  let result: Awaited<ReturnType<typeof runLocal>>;

  beforeAll(async () => {
    result = await runLocal({
      imagesCount: 16,
      holdout: 2,
      epochs: 2,
      maxIterationsPerEpoch: 2,
      outDir,
      workDir: mkdtempSync(join(tmpdir(), 'local-work-')),
      log: (line) => lines.push(line),
      definition: standInDefinition,
    });
  });

  test('the first execution succeeds and enters every stage', () => {
    const [first] = result.executions;
    expect(first.status).toBe('SUCCEEDED');
    expect(first.statesEntered).toEqual(
      expect.arrayContaining([
        'Preprocess images',
        'Preprocess batch',
        'Summarize preprocessing',
        'Find unlabeled images',
        'Request labels',
        'Assemble dataset',
        'Train',
        'Quality gate',
        'Create model',
        'Create endpoint config',
        'Create endpoint',
        'Describe endpoint',
        'Describe live model',
        'Record live model',
        'Notify',
      ]),
    );
  });

  test('the API answers every held-out image with well-formed detections and writes annotated copies', async () => {
    expect(result.apiChecks).toHaveLength(2);
    for (const check of result.apiChecks) {
      expect(check.status).toBe(200);
      expect(check.detections.length).toBeGreaterThanOrEqual(0);
      expect(existsSync(check.annotated!)).toBe(true);
      const meta = await sharp(check.annotated!).metadata();
      expect(meta.format).toBe('jpeg');
    }
  });

  test('a second execution with no new data skips preprocessing and labeling', () => {
    const second = result.executions[1];
    expect(second.status).toBe('SUCCEEDED');
    expect(result.secondSkipped).toEqual({ preprocessing: true, labeling: true });
    expect(second.statesEntered).not.toContain('Request labels');
    expect(second.statesEntered).toContain('Update endpoint');
  });

  test('progress shows stages and training epochs', () => {
    expect(lines.some((line) => /train: epoch=1 train_loss=/.test(line))).toBe(true);
    expect(lines.some((line) => /Execution 1 SUCCEEDED/.test(line))).toBe(true);
  });
});
