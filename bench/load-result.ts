import type { LatencyHistogram } from './latency-histogram.js';

/** What a load generator prints as one JSON line on stdout after its bounded run. */
export interface LoadResult {
  requests: number;
  /**
   * Requests answered in the unmeasured warm-up at the run's start. The server's CPU time is
   * read around the whole run, so it is divided by `requests + warmupRequests`.
   */
  warmupRequests: number;
  errors: number;
  /** Answers that were not 2xx (HTTP) or not OK (gRPC). */
  non2xx: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Latency histogram, merged by the parent across rounds. */
  hist: LatencyHistogram;
  /** CPU the load generator itself used, in % of one core (≈100 % = it was the bottleneck). */
  cpuPercent: number;
  /** Index of the next token (round-robin position) for a following run. */
  nextIndex: number;
  /** First error message seen, to explain a non-zero `errors`. */
  firstError?: string;
}
