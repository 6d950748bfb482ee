import { spawn } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpillFile, SpillLockedError, type SpillOptions } from './spill-file';

/** Records of one size, whatever the number. */
const record = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(100 - String(i).length) });
const RECORD_BYTES = 8 + Buffer.byteLength(record(0));
const flip = (data: Buffer, at: number) => data.writeUInt8(data.readUInt8(at) ^ 0xff, at);
const segments = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.spill')).sort();

/** Reads and commits everything pending, in order. */
async function drain(sut: SpillFile, maxRecords = 7): Promise<number[]> {
  const out: number[] = [];
  for (let guard = 0; sut.pendingRecords > 0 && guard < 10_000; guard++) {
    const batch = await sut.read(maxRecords, 1024);
    out.push(...batch.records.map((r) => (JSON.parse(r) as { i: number }).i));
    await sut.commit(batch.end);
  }
  return out;
}

describe(SpillFile.name, () => {
  const open: SpillFile[] = [];
  const spill = async (options: Partial<SpillOptions> & { dir: string }) => {
    const sut = await SpillFile.open({
      maxBytes: 1 << 20,
      segmentBytes: 4096,
      fsyncIntervalMs: 0,
      ...options,
    });
    open.push(sut);
    return sut;
  };
  const newDir = () => mkdtemp(join(tmpdir(), 'stepgate-spill-'));

  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((s) => s.close()));
  });

  it('hands records out in the order they were appended, across segments, and deletes published segments', async () => {
    const dir = await newDir();
    const sut = await spill({ dir });
    for (let i = 0; i < 100; i += 10)
      expect((await sut.append(Array.from({ length: 10 }, (_, k) => record(i + k)))).written).toBe(10);
    expect(sut.pendingRecords).toBe(100);
    expect(sut.pendingBytes).toBe(100 * RECORD_BYTES);
    expect((await segments(dir)).length).toBeGreaterThan(2);

    expect(await drain(sut)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(sut.pendingBytes).toBe(0);
    // Only the segment still appended to remains.
    expect((await segments(dir)).length).toBe(1);
    // Appends after a drain come out next.
    await sut.append([record(100), record(101)]);
    expect(await drain(sut)).toEqual([100, 101]);
  });

  it("keeps its directory and files to the gateway's user: they name subjects and addresses", async () => {
    const dir = join(await newDir(), 'spill');
    const sut = await spill({ dir });
    await sut.append([record(1), record(2), record(3)]);
    expect(await drain(sut, 2)).toEqual([1, 2, 3]);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = await readdir(dir);
    // Segments, the saved position and the LOCK.
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files)
      expect({ f, mode: (await stat(join(dir, f))).mode & 0o077 }).toEqual({ f, mode: 0 });
  });

  it('refuses appends past its bound, the first ones kept, and takes them again once published', async () => {
    const sut = await spill({ dir: await newDir(), maxBytes: 10 * RECORD_BYTES });
    const first = await sut.append(Array.from({ length: 15 }, (_, i) => record(i)));
    expect(first).toEqual({ written: 10, refused: 'full' });
    expect(sut.pendingBytes).toBe(10 * RECORD_BYTES);
    expect(await sut.append([record(99)])).toEqual({ written: 0, refused: 'full' });

    const batch = await sut.read(4, 1 << 20);
    await sut.commit(batch.end);
    expect(await sut.append([record(10), record(11), record(12), record(13), record(14)])).toEqual({
      written: 4,
      refused: 'full',
    });
    expect(await drain(sut)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('replays after a restart from the saved position, what was published before it not again', async () => {
    const dir = await newDir();
    const before = await spill({ dir });
    await before.append(Array.from({ length: 50 }, (_, i) => record(i)));
    const batch = await before.read(20, 1 << 20);
    await before.commit(batch.end);
    await before.close();

    const after = await spill({ dir });
    expect(after.pendingRecords).toBe(30);
    await after.append([record(50)]);
    expect(await drain(after)).toEqual(Array.from({ length: 31 }, (_, i) => i + 20));
  });

  it('replays what a crashed process left (its lock taken over), and never reuses its segment numbers', async () => {
    const dir = await newDir();
    const crashed = await spill({ dir });
    await crashed.append(Array.from({ length: 30 }, (_, i) => record(i)));
    const batch = await crashed.read(5, 1 << 20);
    await crashed.commit(batch.end);
    // The crashed process's directory as it left it: its LOCK file names this pid, as a restarted container's would.
    const copy = await newDir();
    await cp(dir, copy, { recursive: true });
    const names = await segments(copy);

    const sut = await spill({ dir: copy });
    expect(sut.pendingRecords).toBe(25);
    await sut.append([record(30)]);
    expect((await segments(copy)).filter((n) => names.includes(n)).length).toBe(names.length);
    expect(await drain(sut)).toEqual(Array.from({ length: 26 }, (_, i) => i + 5));
  });

  it('skips a torn last record (a crash mid-write) with a count, keeping every whole one before it', async () => {
    const dir = await newDir();
    const writer = await spill({ dir, segmentBytes: 1 << 20 });
    await writer.append(Array.from({ length: 10 }, (_, i) => record(i)));
    await writer.close();
    const [last] = (await segments(dir)).slice(-1);
    // Half a record: a header and part of its payload.
    const torn = Buffer.alloc(8 + 20);
    torn.writeUInt32LE(Buffer.byteLength(record(10)), 0);
    await appendFile(join(dir, last!), torn);

    const sut = await spill({ dir });
    expect(sut.corruptRecords).toBe(1);
    expect(sut.pendingRecords).toBe(10);
    // Cut back to the last whole record, so what is appended later is readable.
    expect((await stat(join(dir, last!))).size).toBe(10 * RECORD_BYTES);
    expect(await drain(sut)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('skips a record whose checksum fails, with a count', async () => {
    const dir = await newDir();
    const writer = await spill({ dir, segmentBytes: 1 << 20 });
    await writer.append(Array.from({ length: 5 }, (_, i) => record(i)));
    await writer.close();
    const [last] = await segments(dir);
    const path = join(dir, last!);
    const data = await readFile(path);
    flip(data, 4 * RECORD_BYTES + 20); // inside the last record's payload
    await writeFile(path, data);

    const sut = await spill({ dir });
    expect(sut.corruptRecords).toBe(1);
    expect(await drain(sut)).toEqual([0, 1, 2, 3]);
  });

  it('skips, with a count, the rest of a segment damaged after it was written', async () => {
    const dir = await newDir();
    const sut = await spill({ dir, segmentBytes: 1 << 20 });
    await sut.append(Array.from({ length: 6 }, (_, i) => record(i)));
    const [name] = await segments(dir);
    const data = await readFile(join(dir, name!));
    flip(data, 2 * RECORD_BYTES + 20);
    await writeFile(join(dir, name!), data);

    const batch = await sut.read(100, 1 << 20);
    expect(batch.records.map((r) => (JSON.parse(r) as { i: number }).i)).toEqual([0, 1]);
    expect(batch.corrupt).toBe(4);
    await sut.commit(batch.end);
    expect(sut.pendingRecords).toBe(0);
    expect(sut.corruptRecords).toBe(4);
  });

  it('belongs to one process at a time: a live holder refuses, a dead one is taken over', async () => {
    const dir = await newDir();
    await spill({ dir });
    await expect(
      SpillFile.open({ dir, maxBytes: 1, segmentBytes: 4096, fsyncIntervalMs: 0 }),
    ).rejects.toThrow(SpillLockedError);

    const other = await newDir();
    const child = spawn('sleep', ['30']);
    try {
      await writeFile(join(other, 'LOCK'), JSON.stringify({ pid: child.pid, host: hostname() }));
      await expect(
        SpillFile.open({ dir: other, maxBytes: 1, segmentBytes: 4096, fsyncIntervalMs: 0 }),
      ).rejects.toThrow(`process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // Its holder is gone now.
    await spill({ dir: other });
  });

  it('leaves a directory to a holder on another host while it keeps its lock fresh, takes it once stale', async () => {
    const dir = await newDir();
    const lock = join(dir, 'LOCK');
    await writeFile(lock, JSON.stringify({ pid: 1, host: 'another-container' }));
    await expect(
      SpillFile.open({ dir, maxBytes: 1, segmentBytes: 4096, fsyncIntervalMs: 0 }),
    ).rejects.toThrow('process 1 on host another-container');
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lock, longAgo, longAgo);
    await spill({ dir });
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ host: hostname(), pid: process.pid });
  });

  it('reads on from the saved position when damage lies only in records published before it', async () => {
    const dir = await newDir();
    const before = await spill({ dir, segmentBytes: 1 << 20 });
    await before.append(Array.from({ length: 6 }, (_, i) => record(i)));
    const batch = await before.read(3, 1 << 20);
    await before.commit(batch.end);
    await before.close();
    const [name] = await segments(dir);
    const data = await readFile(join(dir, name!));
    flip(data, RECORD_BYTES + 20);
    await writeFile(join(dir, name!), data);

    const after = await spill({ dir, segmentBytes: 1 << 20 });
    expect(after.pendingRecords).toBe(3);
    expect(await drain(after)).toEqual([3, 4, 5]);
    expect(after.corruptRecords).toBe(1);
  });
});
