// bench/results/<adapter>.json across runs: a full run replaces the file, a filtered one (--filter)
// replaces only the rows it measured and keeps the others, so that measuring a few rows does not
// throw away the rest of the table. Each row carries the date and the number of warm runs it was
// measured with. Apart from the bench so that tests can use it without running anything.

export interface ResultRow { name: string; ms: number; date?: string; runs?: number }
export interface ResultsFile { date: string; adapter: unknown; ceilingGflops: number; runs: number; rows: ResultRow[] }

/**
 * The file after a run. `prev`: the file's content (null if none, or not a results file).
 * Filtered: `prev`'s rows with those re-measured replaced in place and new ones appended; the
 * ceiling kept from `prev` unless this run measured it (non-zero).
 */
export function mergeResults(prev: unknown, run: ResultsFile, filtered: boolean): ResultsFile {
  const stamped = run.rows.map((r) => ({ ...r, date: r.date ?? run.date, runs: r.runs ?? run.runs }));
  const old = isResults(prev) ? prev : null;
  if (!filtered || !old) return { ...run, rows: stamped };
  const fresh = new Map(stamped.map((r) => [r.name, r]));
  // rows of files written before rows carried their own date and runs: the file's
  const rows = old.rows.map((r) => fresh.get(r.name) ?? { ...r, date: r.date ?? old.date, runs: r.runs ?? old.runs });
  for (const r of stamped) if (!old.rows.some((o) => o.name === r.name)) rows.push(r);
  return { ...run, ceilingGflops: run.ceilingGflops || old.ceilingGflops, rows };
}

function isResults(v: unknown): v is ResultsFile {
  const f = v as ResultsFile | null;
  return !!f && typeof f === 'object' && Array.isArray(f.rows) && f.rows.every((r) => r && typeof r.name === 'string');
}
