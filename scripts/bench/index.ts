/**
 * `npm run bench`: measures what users feel, beside a baseline measured in the same run, prints a table and
 * rewrites BENCHMARKS.md. It reports; it never fails the build (a section that cannot run says why).
 *
 * Options: --runs N (default 5) runs per figure; --only a,b (section keys: synth, payload, preprocess, coldstart,
 * serving, load, batch, local) runs those sections and only prints them, unless --write is given too: then they replace
 * their namesakes in BENCHMARKS.md and every other section stays as it was.
 * The local section runs the default `npm start` once (about three minutes); the load section takes about two.
 */
import '../node-version';
import { readFileSync, writeFileSync } from 'fs';
import { loadavg } from 'os';
import { join } from 'path';
import { benchBatch } from './batch';
import { bundleFigures } from './bundles';
import { benchLoad } from './load';
import { benchLocal } from './local';
import { benchColdStart } from './coldstart';
import { benchPayload } from './payload';
import { benchPreprocess } from './preprocess';
import { Section, loadText, replaceSections, toMarkdown, toText } from './report';
import { benchServing } from './serving';
import { benchSynth } from './synth';

const ROOT = join(__dirname, '..', '..');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function section(
  key: string,
  only: string[] | undefined,
  title: string,
  explain: string,
  run: () => Promise<Section | Section[]>,
): Promise<Section[]> {
  if (only && !only.includes(key)) return [];
  process.stderr.write(`bench: ${title}...\n`);
  try {
    const result = await run();
    return Array.isArray(result) ? result : [result];
  } catch (error) {
    return [{ title, figures: [], explanation: explain, skipped: (error as Error).message.split('\n')[0] }];
  }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0];
  const runs = Number(option('runs') ?? 5);
  const only = option('only')?.split(',');
  const work = join(ROOT, 'bench-out');
  const sections: Section[] = [];

  let cdkOut: string | undefined;
  sections.push(
    ...(await section('synth', only, 'Synth', '', async () => {
      const result = await benchSynth(work, Math.max(3, Math.min(runs, 5)));
      cdkOut = result.cdkOut;
      return [
        result.section,
        {
          title: 'Lambda bundles',
          figures: bundleFigures(result.cdkOut),
          explanation:
            'Sizes of what each function deploys, read from the synthesized assets. Every bundle is minified by ' +
            "esbuild and leaves out the AWS SDK, which the Node.js runtime provides; the preprocess function's asset " +
            "also carries sharp's native libvips build, which dominates its total. A new dependency in a handler " +
            'moves these; so would bundling the SDK.',
        },
      ];
    })),
  );
  sections.push(
    ...(await section('coldstart', only, 'API proxy cold start', '', () => {
      if (!cdkOut) throw new Error('needs the synth section (the deployed bundle comes from its output)');
      return benchColdStart(cdkOut, work, Math.max(5, runs));
    })),
  );
  sections.push(...(await section('payload', only, 'Request payload', '', benchPayload)));
  sections.push(
    ...(await section('preprocess', only, 'Preprocess throughput', '', () => benchPreprocess(work, runs))),
  );
  sections.push(
    ...(await section('serving', only, 'Serving', '', () => benchServing(work, Math.max(20, runs * 6)))),
  );

  sections.push(...(await section('load', only, 'API under load', '', () => benchLoad(work))));
  sections.push(...(await section('batch', only, 'Batch detection (local)', '', () => benchBatch(work))));

  sections.push(...(await section('local', only, 'Local pipeline (npm start)', '', benchLocal)));

  console.log(toText(sections));
  const report = join(ROOT, 'BENCHMARKS.md');
  if (!only) {
    const load = loadText(loadAtStart, loadavg()[0]);
    writeFileSync(report, toMarkdown(sections, new Date(), `${runs} per figure`, load));
    console.log('\nWrote BENCHMARKS.md');
  } else if (process.argv.includes('--write')) {
    const command = `npm run bench -- --only ${only.join(',')} --write`;
    writeFileSync(report, replaceSections(readFileSync(report, 'utf8'), sections, new Date(), command));
    console.log(`\nReplaced ${sections.map((s) => s.title).join(', ')} in BENCHMARKS.md`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 0; // the benchmark reports; it never fails the build
});
