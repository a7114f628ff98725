import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchVerify } from './verify.js';

/** `make bench`: every benchmark in one run; prints tables and writes bench/results/latest.json. */
async function main(): Promise<void> {
  const started = new Date();
  console.log(
    `certbound bench — ${started.toISOString()} — ${cpus().length} cores, node ${process.version}`,
  );
  const report: Record<string, unknown> = {
    date: started.toISOString(),
    cores: cpus().length,
    node: process.version,
  };
  const verify = await benchVerify();
  console.log(`\n${verify.table}`);
  report['verify'] = verify.results;
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(
    new URL('./results/latest.json', import.meta.url),
    JSON.stringify(report, null, 2),
  );
  console.log('\nwritten to bench/results/latest.json');
}

await main();
