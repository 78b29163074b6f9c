/**
 * A Coordinator on a fresh database from a factory, with a manual clock, and a
 * restart (close and reopen on the same database) for the contract suites.
 */
import assert from 'node:assert/strict';
import { Coordinator, type CoordinatorOptions } from '../../src/coordinator/index.js';
import { ManualClock, openTaskStore, type TaskStore } from '../../src/db/index.js';
import type { DatabaseFactory } from '../db/databases.js';
import { claim, succeed } from '../fixtures/messages.js';

export interface CoordinatorSetup {
  clock: ManualClock;
  c: Coordinator;
  readonly store: TaskStore;
  /** Closes the coordinator and its store and opens new ones on the same database. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** A coordinator on a fresh database made by `factory`. */
export async function setupCoordinator(
  factory: DatabaseFactory,
  options: CoordinatorOptions = {},
): Promise<CoordinatorSetup> {
  const db = await factory.create();
  const clock = new ManualClock();
  let store = await openTaskStore(db.location);
  const make = () => new Coordinator(store, { clock, pollIntervalMs: 20, ...options });
  const ctx: CoordinatorSetup = {
    clock,
    c: make(),
    async reopen() {
      ctx.c.close();
      await store.close();
      store = await openTaskStore(db.location);
      ctx.c = make();
    },
    get store() {
      return store;
    },
    async close() {
      ctx.c.close();
      await store.close();
      await db.cleanup();
    },
  };
  return ctx;
}

/** Claims and succeeds tasks until none is left; returns what ran, in order. */
export async function drain(c: Coordinator, pieces: number, hasAudio = false): Promise<string[]> {
  const kinds: string[] = [];
  for (let task = await claim(c, 'w1'); task; task = await claim(c, 'w1')) {
    kinds.push(
      task.kind.case === 'encode' ? `encode ${task.kind.value.pieces[0]?.index}` : String(task.kind.case),
    );
    assert.equal(await succeed(c, 'w1', task, pieces, hasAudio), true);
  }
  return kinds;
}
