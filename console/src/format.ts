// Pure helpers for what the console prints: times, durations, progress, ETA,
// locations and where a job's output can be played over HTTP.
import type { Job } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { httpUrl } from '../../src/storage/http-url.js';

/** The state's name in lower case ("running"). */
export function stateName(state: JobState): string {
  return (JobState[state] ?? 'unknown').toLowerCase().replace(/^job_state_/, '');
}

/** Whether the job can no longer change. */
export function isFinished(job: Job): boolean {
  return job.finishedAtMs > 0n;
}

/** "2026-12-01 22:48:06" in the browser's time zone, or "" for 0. */
export function timeText(ms: bigint): string {
  if (ms <= 0n) return '';
  const d = new Date(Number(ms));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "1 h 02 min", "3 min 05 s", "12.3 s", "450 ms". */
export function durationText(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * Time left at the rate so far (from submission), or undefined when it cannot
 * be told (not started, finished).
 */
export function etaMs(job: Job, nowMs: number): number | undefined {
  const p = job.percentComplete;
  if (isFinished(job) || p <= 0 || p >= 100) return undefined;
  const elapsed = nowMs - Number(job.createdAtMs);
  return (elapsed * (100 - p)) / p;
}

/** A location as people write it: a path, or s3://bucket/key. */
export function locationText(loc: File | Folder | undefined): string {
  const l = loc?.location;
  if (l?.case === 'fs') return l.value.path;
  if (l?.case === 's3') return `s3://${l.value.bucket}/${l.value.path.replace(/^\/+/, '')}`;
  return '';
}

/**
 * Where the browser can fetch the job's master playlist: the S3 URL (endpoint
 * or AWS virtual host), or the coordinator's read-only route for a filesystem
 * output; undefined before the job has succeeded.
 */
export function playlistUrl(job: Job): string | undefined {
  const l = job.manifest?.location;
  if (!l?.case) return undefined;
  if (l.case === 'fs') {
    const name = l.value.path.split('/').pop() ?? 'master.m3u8';
    return `/console/output/${encodeURIComponent(job.id)}/${encodeURIComponent(name)}`;
  }
  return httpUrl(job.manifest);
}

/** "svt crf 30 preset 8, 1920x1080" — the one rendition a job makes today. */
export function rungText(job: Job): string {
  const s = job.details?.settings;
  const parts = [s?.encoder || 'svt'];
  if (s?.crf) parts.push(`crf ${s.crf}`);
  if (s) parts.push(`preset ${s.preset}`);
  return parts.join(' ');
}
