import { cpus } from 'os';

/** One measured figure, beside the baseline it is judged against. */
export interface Figure {
  /** What was measured. */
  readonly name: string;
  /** The measured value, formatted. */
  readonly value: string;
  /** The baseline measured in the same run (or the fixed goal where there is nothing to run beside it), formatted. */
  readonly baseline: string;
  /** The goal, in words, e.g. "≤ 1.5× baseline". */
  readonly goal: string;
  /** Whether the goal is met; undefined where there is no goal. */
  readonly met?: boolean;
  /** Ratio of value to baseline (or baseline to value), formatted, e.g. "1.21×". */
  readonly ratio?: string;
}

/** One section of the benchmark: its figures and a sentence on what they mean and what would move them. */
export interface Section {
  readonly title: string;
  readonly figures: Figure[];
  readonly explanation: string;
  /** Set when the section could not run, with the reason. */
  readonly skipped?: string;
}

/** CPU model and core count of this machine. */
export function machine(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'unknown CPU'}, ${list.length} cores, Node ${process.version}`;
}

/** Plain-text table of the sections, for the terminal. */
export function toText(sections: Section[]): string {
  const lines: string[] = [];
  for (const s of sections) {
    lines.push(`\n${s.title}`);
    if (s.skipped) {
      lines.push(`  skipped: ${s.skipped}`);
      continue;
    }
    for (const f of s.figures) {
      const verdict = f.met === undefined ? '' : f.met ? '  [goal met]' : '  [goal missed]';
      lines.push(
        `  ${f.name.padEnd(44)} ${f.value.padStart(14)}   baseline ${f.baseline.padStart(14)}` +
          `${f.ratio ? `   ${f.ratio}` : ''}   goal ${f.goal}${verdict}`,
      );
    }
  }
  return lines.join('\n');
}

/** BENCHMARKS.md: the machine, the date, every figure beside its baseline, and what each means. */
export function toMarkdown(sections: Section[], date: Date, runs: string): string {
  const out = [
    '# Benchmarks',
    '',
    'Written by `npm run bench`, which measures everything below in one run on one machine and rewrites this file.',
    'It reports; it never fails the build. Figures are medians of several runs unless a percentile is named.',
    '',
    `- Machine: ${machine()}`,
    `- Date: ${date.toISOString().slice(0, 10)}`,
    `- Runs: ${runs}`,
    '',
  ];
  for (const s of sections) {
    out.push(`## ${s.title}`, '');
    if (s.skipped) {
      out.push(`Not measured in this run: ${s.skipped}`, '', s.explanation, '');
      continue;
    }
    out.push('| figure | value | baseline | ratio | goal | met |', '| --- | --- | --- | --- | --- | --- |');
    for (const f of s.figures) {
      const met = f.met === undefined ? '' : f.met ? 'yes' : 'no';
      out.push(`| ${f.name} | ${f.value} | ${f.baseline} | ${f.ratio ?? ''} | ${f.goal} | ${met} |`);
    }
    out.push('', s.explanation, '');
  }
  return out.join('\n');
}
