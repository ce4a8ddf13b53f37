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
  /** Details the figures sum up, one row per case (e.g. per concurrency level), shown after the figures. */
  readonly table?: { readonly header: string[]; readonly rows: string[][] };
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
    if (s.table) {
      const { header, rows } = s.table;
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      for (const row of [header, ...rows])
        lines.push(`  ${row.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd());
    }
  }
  return lines.join('\n');
}

/** One section of BENCHMARKS.md, from its `## ` heading to its explanation. */
function sectionMarkdown(s: Section): string[] {
  const out = [`## ${s.title}`, ''];
  if (s.skipped) return [...out, `Not measured in this run: ${s.skipped}`, '', s.explanation, ''];
  out.push('| figure | value | baseline | ratio | goal | met |', '| --- | --- | --- | --- | --- | --- |');
  for (const f of s.figures) {
    const met = f.met === undefined ? '' : f.met ? 'yes' : 'no';
    out.push(`| ${f.name} | ${f.value} | ${f.baseline} | ${f.ratio ?? ''} | ${f.goal} | ${met} |`);
  }
  if (s.table) {
    const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
    out.push('', row(s.table.header), row(s.table.header.map(() => '---')), ...s.table.rows.map(row));
  }
  out.push('', s.explanation, '');
  return out;
}

/**
 * "1.2 at the start, 3.4 at the end, on 2 cores": the 1-minute load averages around a run, which say how much of
 * the machine other work took (latencies move with it; CPU time per request hardly does).
 */
export function loadText(start: number, end: number, cores = cpus().length): string {
  return `${start.toFixed(1)} at the start, ${end.toFixed(1)} at the end, on ${cores} cores`;
}

/**
 * BENCHMARKS.md: the machine, the date, the load average around the run (`load`, see {@link loadText}; left out
 * when undefined), every figure beside its baseline, and what each means.
 */
export function toMarkdown(sections: Section[], date: Date, runs: string, load?: string): string {
  const out = [
    '# Benchmarks',
    '',
    'Written by `npm run bench`, which measures everything below in one run on one machine and rewrites this file.',
    'It reports; it never fails the build. Figures are medians of several runs unless a percentile is named.',
    '',
    `- Machine: ${machine()}`,
    `- Date: ${date.toISOString().slice(0, 10)}`,
    `- Runs: ${runs}`,
    ...(load ? [`- Load average: ${load}`] : []),
    '',
  ];
  for (const s of sections) out.push(...sectionMarkdown(s));
  return out.join('\n');
}

/**
 * `markdown` (a BENCHMARKS.md) with each of `sections` in place of the section of the same title, or appended
 * when it has none; every other section is kept as it was. Each replaced section says when, on what machine and
 * by which command it was measured, since the file's header describes the last full run.
 */
export function replaceSections(markdown: string, sections: Section[], date: Date, command: string): string {
  // Each chunk after the first starts with a section's title line.
  const chunks = markdown.replace(/\n*$/, '\n\n').split(/^## /m);
  for (const s of sections) {
    const note = `Measured on its own on ${date.toISOString().slice(0, 10)} by \`${command}\` (${machine()}).`;
    const [heading, ...rest] = sectionMarkdown(s);
    const text = [heading.slice('## '.length), '', note, ...rest, ''].join('\n');
    const at = chunks.findIndex((c, i) => i > 0 && c.split('\n')[0] === s.title);
    if (at > 0) chunks[at] = text;
    else chunks.push(text);
  }
  return chunks.join('## ').replace(/\n+$/, '\n');
}
