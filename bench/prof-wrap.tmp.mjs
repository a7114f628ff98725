import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 200 });
setTimeout(async () => { await s.post('Profiler.start'); setTimeout(async () => { const { profile } = await s.post('Profiler.stop'); writeFileSync('/tmp/prof.cpuprofile', JSON.stringify(profile)); }, 6000); }, Number(process.env.PROF_DELAY ?? 4000));
await import('../dist/src/cli/main.js');
