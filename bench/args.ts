// npm run bench's command line, apart from the bench itself so that tests can read it without
// running (or writing) anything.
import { parseArgs } from 'node:util';

export const BENCH_HELP = `usage: npm run bench [-- --filter REGEX] [--quick] [--runs N]

Measures the engine's ceilings (best f32 matmul, a large buffer copy), every kernel at the shapes
SRGAN runs, whole training steps, upscaling end to end and the training data loader; prints a row
each (median of warm runs, compilation timed apart) and writes bench/results/<adapter>.json
(with --filter, only the rows measured are replaced there; the others are kept).

  --filter REGEX  only the rows whose name matches (e.g. conv, 'inference', 'data loader')
  --quick         fewer runs (3) and shorter loops, for a first look
  --runs N        warm runs a row, 1 to 100 (default 5, 3 with --quick)
  -h, --help      this text
`;

export interface BenchArgs { filter: RegExp | null; quick: boolean; runs: number }

/** The bench's settings from its arguments, 'help' for --help; a bad flag or value throws one line. */
export function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: { filter: { type: 'string' }, quick: { type: 'boolean' }, runs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) return 'help';
  let filter: RegExp | null = null;
  if (values.filter !== undefined) {
    try { filter = new RegExp(values.filter); } catch { throw new Error(`--filter ${JSON.stringify(values.filter)}: not a regular expression`); }
  }
  const runs = values.runs === undefined ? (values.quick ? 3 : 5) : Number(values.runs);
  if (!(Number.isInteger(runs) && runs >= 1 && runs <= 100)) throw new Error(`--runs ${JSON.stringify(values.runs)}: expected an integer in 1..100`);
  return { filter, quick: Boolean(values.quick), runs };
}
