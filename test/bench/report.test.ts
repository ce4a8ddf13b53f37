import { Section, loadText, replaceSections, toMarkdown } from '../../scripts/bench/report';

const section = (title: string, value: string): Section => ({
  title,
  figures: [{ name: 'figure', value, baseline: '1 ms', goal: '≤ 2 ms', met: true }],
  explanation: `What ${title} means.`,
});

const date = new Date('2026-12-01T00:00:00Z');

describe('toMarkdown', () => {
  test("renders a section's table after its figures, header and a row per case", () => {
    const markdown = toMarkdown(
      [{ ...section('Load', '1 ms'), table: { header: ['level', 'p99'], rows: [['1', '5 ms']] } }],
      date,
      '1',
    );

    expect(markdown).toContain(
      '| figure | 1 ms | 1 ms |  | ≤ 2 ms | yes |\n\n| level | p99 |\n| --- | --- |\n| 1 | 5 ms |\n\nWhat Load means.',
    );
  });
});

describe('the load average around a run', () => {
  test('is stated under the header when given, so a reader can tell a loaded run from a quiet one', () => {
    const markdown = toMarkdown([section('Load', '1 ms')], date, '5 per figure', loadText(0.4, 6.25, 2));

    expect(markdown).toContain(
      '- Runs: 5 per figure\n- Load average: 0.4 at the start, 6.3 at the end, on 2 cores\n',
    );
    expect(toMarkdown([section('Load', '1 ms')], date, '5 per figure')).not.toContain('Load average');
  });
});

describe('replaceSections', () => {
  const before = toMarkdown([section('Synth', '10 ms'), section('Load', '1 ms')], date, '5 per figure');

  test('replaces the section of the same title, says how it was measured, and keeps the others', () => {
    const after = replaceSections(
      before,
      [section('Load', '9 ms')],
      date,
      'npm run bench -- --only load --write',
    );

    expect(after).toContain('## Synth\n\n| figure | value |');
    expect(after).toContain('| figure | 10 ms |');
    expect(after).not.toContain('| figure | 1 ms |');
    expect(after).toMatch(
      /## Load\n\nMeasured on its own on 2026-12-01 by `npm run bench -- --only load --write` \(.+\)\.\n\n\| figure \| value /,
    );
    expect(after).toContain('| figure | 9 ms |');
    expect(after.split('## ').length).toBe(before.split('## ').length);
    expect(after.endsWith('What Load means.\n')).toBe(true);
  });

  test('appends a section the file does not have yet, after a blank line', () => {
    const after = replaceSections(
      before,
      [section('New', '3 ms')],
      date,
      'npm run bench -- --only new --write',
    );

    expect(after).toContain('What Load means.\n\n## New\n\nMeasured on its own');
    expect(after.startsWith(before.replace(/\n$/, ''))).toBe(true);
  });
});
