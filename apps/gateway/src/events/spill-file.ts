// The access-event spill file: a bounded, append-only write-ahead log of events Kafka has not taken yet, as
// numbered segment files in one directory. Each record is framed by its length and CRC-32; the reader hands
// records out in the order they were appended, and a segment is deleted once every record in it was
// published. One process owns a directory at a time (its LOCK file); what an earlier process left there is
// read first. Why it looks like this: docs/adr/0017-access-event-spill-file.md.
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  truncate,
  unlink,
  utimes,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';

/** Per record: the payload's length (u32 LE), its CRC-32 (u32 LE), then the payload (UTF-8 JSON). */
const HEADER_BYTES = 8;
/** Far above any access event (a few KiB): a longer length is a corrupt header, not a record. */
export const MAX_RECORD_BYTES = 1024 * 1024;
const SEGMENT_NAME = /^(\d{16})\.spill$/;
const CURSOR = 'cursor';
const LOCK = 'LOCK';
/** Owner only (the umask can only narrow these): access events name subjects, addresses and paths. */
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** The holder touches its LOCK this often; one from another host untouched for LOCK_STALE_MS is taken over. */
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 30_000;
/** Directories this process holds: a second gateway in one process (tests, the embedded launcher) must not share one. */
const held = new Set<string>();

export interface SpillOptions {
  dir: string;
  /** Bound on the unpublished bytes on disk, framing included: past it, appends are refused. */
  maxBytes: number;
  /** A new segment file is started past this size. */
  segmentBytes: number;
  /** fdatasync at most this often; 0: after every append. */
  fsyncIntervalMs: number;
}

/** Where the reader is: a segment, a byte offset in it, and how many records lie before that offset. */
export interface SpillPosition {
  readonly seq: number;
  readonly offset: number;
  readonly records: number;
}

export interface SpillBatch {
  /** The payloads, oldest first. */
  readonly records: string[];
  /** What to commit once they are published. */
  readonly end: SpillPosition;
  /** Records skipped because they failed their checksum (the rest of their segment with them). */
  readonly corrupt: number;
}

export interface AppendResult {
  /** How many of the given records were written, from the first; the others were not. */
  written: number;
  /** Why the others were not: the bound, or a write that failed. */
  refused: 'full' | Error | null;
}

export class SpillLockedError extends Error {
  readonly code = 'spill_locked';
  constructor(dir: string, holder: string) {
    super(`${dir} is in use by ${holder}`);
  }
}

interface Segment {
  readonly seq: number;
  /** Bytes of whole, valid records. */
  size: number;
  records: number;
}

export class SpillFile {
  /** Oldest first; the reader is in the first, appends go to the last once this process wrote. */
  private readonly segments: Segment[] = [];
  private headOffset = 0;
  private headRecords = 0;
  private tail: { segment: Segment; file: FileHandle } | null = null;
  private reader: { seq: number; file: FileHandle } | null = null;
  private nextSeq = 1;
  private dirty = false;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly syncTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  /** Records found corrupt (at open, or later when read) and skipped. */
  corruptRecords = 0;

  private constructor(
    private readonly options: SpillOptions,
    private readonly log: (message: string) => void,
  ) {
    if (options.fsyncIntervalMs > 0) {
      this.syncTimer = setInterval(() => {
        this.serial(() => this.sync()).catch((err: unknown) =>
          this.log(`spill file fsync failed: ${String(err)}`),
        );
      }, options.fsyncIntervalMs);
      this.syncTimer.unref();
    }
    // The LOCK's age is how a gateway on another host sharing this volume tells a live holder from a gone one.
    const lockPath = join(options.dir, LOCK);
    this.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(lockPath, now, now).catch((err: unknown) =>
        this.log(`spill file lock heartbeat: ${String(err)}`),
      );
    }, LOCK_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Takes the directory (SpillLockedError when a live process holds it) and reads what is there: records
   * already published (before the cursor) are deleted, and a record cut short or corrupted by a crash ends its
   * segment (truncated there, counted in corruptRecords).
   */
  static async open(options: SpillOptions, log: (message: string) => void = () => {}): Promise<SpillFile> {
    const dir = resolve(options.dir);
    // It holds subjects, client addresses and paths: readable by the gateway's user only.
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    await lock(dir);
    const spill = new SpillFile({ ...options, dir }, log);
    try {
      await spill.recover();
    } catch (err) {
      await spill.close();
      throw err;
    }
    return spill;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Bytes appended and not yet committed. */
  get pendingBytes(): number {
    return this.segments.reduce((sum, s) => sum + s.size, 0) - this.headOffset;
  }

  /** Records appended and not yet committed. */
  get pendingRecords(): number {
    return this.segments.reduce((sum, s) => sum + s.records, 0) - this.headRecords;
  }

  /** Appends records in order, as many as the bound allows: the first ones, never a later one before an earlier. */
  append(records: readonly string[]): Promise<AppendResult> {
    return this.serial(async () => {
      this.assertOpen();
      let pending = this.pendingBytes;
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      let written = 0;
      let refused: AppendResult['refused'] = null;
      try {
        for (const record of records) {
          const payload = Buffer.from(record, 'utf8');
          const bytes = HEADER_BYTES + payload.length;
          if (payload.length > MAX_RECORD_BYTES) throw new Error(`a record of ${payload.length} bytes`);
          if (pending + bytes > this.options.maxBytes) {
            refused = 'full';
            break;
          }
          const size = (this.tail?.segment.size ?? 0) + chunkBytes;
          if (!this.tail || (size > 0 && size + bytes > this.options.segmentBytes)) {
            written += await this.write(chunk, chunkBytes);
            [chunk, chunkBytes] = [[], 0];
            await this.roll();
          }
          chunk.push(frame(payload));
          chunkBytes += bytes;
          pending += bytes;
        }
        written += await this.write(chunk, chunkBytes);
        if (this.options.fsyncIntervalMs === 0) await this.sync();
      } catch (err) {
        refused = err instanceof Error ? err : new Error(String(err));
      }
      return { written, refused };
    });
  }

  /**
   * The next records from the read position (at most maxRecords, about maxBytes), without moving it: commit
   * their `end` once they are published. Never crosses a segment; an empty batch whose end differs from the
   * read position is a finished segment to commit.
   */
  async read(maxRecords: number, maxBytes: number): Promise<SpillBatch> {
    this.assertOpen();
    const segment = this.segments[0];
    const at = { seq: segment?.seq ?? this.nextSeq, offset: this.headOffset, records: this.headRecords };
    if (!segment || this.headOffset >= segment.size) {
      // A finished segment that is no longer appended to: its end is the next thing to commit.
      const finished = segment && segment !== this.tail?.segment;
      return { records: [], end: finished ? { ...at, offset: segment.size } : at, corrupt: 0 };
    }
    const file = await this.readerFor(segment.seq);
    // At least one whole record of the largest size fits, so a batch always makes progress.
    const length = Math.min(
      segment.size - this.headOffset,
      Math.max(maxBytes, HEADER_BYTES + MAX_RECORD_BYTES),
    );
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, this.headOffset);
    const records: string[] = [];
    let pos = 0;
    let corrupt = 0;
    while (records.length < maxRecords && pos < bytesRead && (records.length === 0 || pos < maxBytes)) {
      const record = parseRecord(buffer, pos, bytesRead);
      // The next record goes past what was read: the next batch starts with it.
      if ('problem' in record && record.problem === SHORT && records.length > 0) break;
      if ('problem' in record) {
        // Damaged (or cut) since it was written and checked: nothing after it can be framed again.
        corrupt = segment.records - at.records - records.length;
        this.corruptRecords += corrupt;
        this.log(
          `spill file ${segmentName(segment.seq)}: ${record.problem} at byte ` +
            `${this.headOffset + pos}; skipping the ${corrupt} records left in it`,
        );
        return {
          records,
          end: { seq: segment.seq, offset: segment.size, records: segment.records },
          corrupt,
        };
      }
      records.push(record.payload);
      pos = record.end;
    }
    return {
      records,
      end: { seq: segment.seq, offset: this.headOffset + pos, records: at.records + records.length },
      corrupt,
    };
  }

  /** Marks everything up to `end` as published: finished segments are deleted and the position is saved. */
  commit(end: SpillPosition): Promise<void> {
    return this.serial(async () => {
      this.assertOpen();
      const segment = this.segments[0];
      if (!segment || segment.seq !== end.seq || end.offset < this.headOffset) return;
      this.headOffset = end.offset;
      this.headRecords = end.records;
      if (this.headOffset >= segment.size && segment !== this.tail?.segment) {
        this.segments.shift();
        [this.headOffset, this.headRecords] = [0, 0];
        if (this.reader?.seq === segment.seq) {
          await this.reader.file.close();
          this.reader = null;
        }
        await unlink(this.path(segment.seq));
      }
      // Best effort, as on every save: a full disk must not make a published batch read as unpublished.
      await this.saveCursor().catch((err: unknown) => this.log(`saving the spill position: ${String(err)}`));
    });
  }

  /** Syncs what was written, saves the read position and releases the directory. */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      clearInterval(this.syncTimer);
      clearInterval(this.heartbeat);
      try {
        await this.sync();
        await this.tail?.file.close();
        await this.reader?.file.close();
        // Only a recovered file's position is worth saving: after a failed recovery it would point past
        // segments not read yet, and the next start would delete them as published.
        if (this.recovered) await this.saveCursor();
      } finally {
        this.tail = null;
        this.reader = null;
        await unlink(join(this.options.dir, LOCK)).catch(() => undefined);
        held.delete(this.options.dir);
      }
    });
  }

  private recovered = false;

  private async recover(): Promise<void> {
    const seqs = (await readdir(this.options.dir))
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const cursor = await this.readCursor();
    for (const seq of seqs) {
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const path = this.path(seq);
      // Published before the last cursor was saved: the crash came between the two.
      if (cursor && seq < cursor.seq) {
        await unlink(path);
        continue;
      }
      const data = await readFile(path);
      let pos = 0;
      let records = 0;
      const start = cursor?.seq === seq ? cursor : null;
      let resumeAt = { offset: 0, records: 0 };
      for (;;) {
        if (start && pos <= start.offset) resumeAt = { offset: pos, records };
        const record = parseRecord(data, pos, data.length);
        if ('problem' in record) {
          // Damage before the saved position is in records already published: the cursor's record boundary is
          // where reading resumes, and nothing after it is dropped for it.
          if (start && pos < start.offset && isRecordAt(data, start.offset)) {
            this.corruptRecords += 1;
            this.log(
              `spill file ${segmentName(seq)}: ${record.problem} at byte ${pos}, before the saved position; ` +
                `reading from byte ${start.offset}`,
            );
            records = start.records;
            pos = start.offset;
            continue;
          }
          if (pos < data.length) {
            // The tail of a write a crash cut short, or damage: nothing after it can be framed again.
            this.corruptRecords += 1;
            this.log(
              `spill file ${segmentName(seq)}: ${record.problem} at byte ${pos}; ` +
                `dropping its last ${data.length - pos} bytes`,
            );
            await truncate(path, pos);
          }
          break;
        }
        records += 1;
        pos = record.end;
      }
      if (start && resumeAt.offset !== start.offset)
        this.log(
          `spill file ${segmentName(seq)}: the saved position is not a record's start; reading from byte ${resumeAt.offset}`,
        );
      if (resumeAt.offset >= pos) {
        await unlink(path);
        continue;
      }
      if (this.segments.length === 0)
        [this.headOffset, this.headRecords] = [resumeAt.offset, resumeAt.records];
      this.segments.push({ seq, size: pos, records });
    }
    // Never reuse the cursor's segment number: a cursor saved before a crash must not apply to a new segment.
    if (cursor) this.nextSeq = Math.max(this.nextSeq, cursor.seq + 1);
    this.recovered = true;
    await this.saveCursor();
    if (this.pendingRecords > 0)
      this.log(
        `spill file ${this.options.dir}: ${this.pendingRecords} access events (${this.pendingBytes} bytes) from an earlier run to publish`,
      );
  }

  /** Writes one chunk to the current segment; on failure cuts the segment back to its last whole record. */
  private async write(chunk: Buffer[], bytes: number): Promise<number> {
    if (chunk.length === 0 || !this.tail) return 0;
    const tail = this.tail;
    try {
      const { bytesWritten } = await tail.file.writev(chunk);
      if (bytesWritten !== bytes) throw new Error(`short write (${bytesWritten} of ${bytes} bytes)`);
    } catch (err) {
      await tail.file.truncate(tail.segment.size).catch(() => undefined);
      await tail.file.close().catch(() => undefined);
      this.tail = null;
      throw err;
    }
    tail.segment.size += bytes;
    tail.segment.records += chunk.length;
    this.dirty = true;
    return chunk.length;
  }

  /** Starts a new segment; the one before is synced first (a closed segment never changes again). */
  private async roll(): Promise<void> {
    if (this.tail) {
      await this.sync();
      await this.tail.file.close();
      this.tail = null;
    }
    const seq = this.nextSeq++;
    const file = await open(this.path(seq), 'ax', FILE_MODE);
    const segment = { seq, size: 0, records: 0 };
    if (this.segments.length === 0) [this.headOffset, this.headRecords] = [0, 0];
    this.segments.push(segment);
    this.tail = { segment, file };
    // The new name must survive a power loss as much as its content.
    const dir = await open(this.options.dir, 'r');
    await dir.sync().finally(() => dir.close());
  }

  private async sync(): Promise<void> {
    if (!this.dirty || !this.tail) return;
    this.dirty = false;
    await this.tail.file.datasync();
  }

  private async readerFor(seq: number): Promise<FileHandle> {
    if (this.reader?.seq === seq) return this.reader.file;
    await this.reader?.file.close();
    this.reader = { seq, file: await open(this.path(seq), 'r') };
    return this.reader.file;
  }

  /**
   * The read position, replaced atomically; not synced: losing it after a crash only publishes some events a
   * second time, which risk ignores by event id.
   */
  private async saveCursor(): Promise<void> {
    const seq = this.segments[0]?.seq ?? this.nextSeq;
    const tmp = join(this.options.dir, `${CURSOR}.tmp`);
    await writeFile(tmp, `${seq} ${this.headOffset} ${this.headRecords}\n`, { mode: FILE_MODE });
    await rename(tmp, join(this.options.dir, CURSOR));
  }

  private async readCursor(): Promise<SpillPosition | null> {
    const text = await readFile(join(this.options.dir, CURSOR), 'utf8').catch(() => '');
    const [seq, offset, records] = text.trim().split(' ').map(Number);
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(offset) || !Number.isSafeInteger(records))
      return null;
    return { seq: seq!, offset: offset!, records: records! };
  }

  private path(seq: number): string {
    return join(this.options.dir, segmentName(seq));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the spill file is closed');
  }

  /** File changes one at a time, in call order. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.spill`;
}

function frame(payload: Buffer): Buffer {
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  payload.copy(record, HEADER_BYTES);
  return record;
}

const SHORT = 'a record cut short';

/** The record at `pos`: its payload and where it ends, or what is wrong (SHORT: the bytes stop inside it). */
/** Whether a record starts at `pos` (or the data ends there, after the last one). */
function isRecordAt(data: Buffer, pos: number): boolean {
  return pos === data.length || (pos < data.length && !('problem' in parseRecord(data, pos, data.length)));
}

function parseRecord(
  data: Buffer,
  pos: number,
  end: number,
): { payload: string; end: number } | { problem: string } {
  if (pos + HEADER_BYTES > end) return { problem: SHORT };
  const length = data.readUInt32LE(pos);
  if (length > MAX_RECORD_BYTES) return { problem: `an impossible record length (${length})` };
  if (pos + HEADER_BYTES + length > end) return { problem: SHORT };
  const payload = data.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length);
  if (crc32(payload) !== data.readUInt32LE(pos + 4)) return { problem: 'a checksum mismatch' };
  return { payload: payload.toString('utf8'), end: pos + HEADER_BYTES + length };
}

/**
 * Takes the directory's LOCK file. A lock whose process is gone (a crash; or this pid, reused in a new
 * container) is taken over; a live holder on this host refuses. A lock written on another host (a container
 * that shares the volume, or the one this one replaces) is held while its holder keeps touching it, and taken
 * over once it has not for LOCK_STALE_MS.
 */
async function lock(dir: string): Promise<void> {
  if (held.has(dir)) throw new SpillLockedError(dir, 'another gateway in this process');
  const path = join(dir, LOCK);
  const me = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, JSON.stringify(me), { flag: 'wx', mode: FILE_MODE });
      held.add(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = parseLock(await readFile(path, 'utf8').catch(() => ''));
    // Empty or unreadable: another process may be between creating it and writing its name. Held, unless
    // nobody has touched it for LOCK_STALE_MS (a process that died in between).
    if (!holder) {
      const touched = await stat(path).then(
        (st) => st.mtimeMs,
        () => 0,
      );
      if (touched !== 0 && Date.now() - touched < LOCK_STALE_MS)
        throw new SpillLockedError(dir, 'a process that is taking it');
    }
    if (holder && holder.host === me.host && holder.pid !== me.pid && alive(holder.pid))
      throw new SpillLockedError(dir, `process ${holder.pid}`);
    if (holder && holder.host !== me.host) {
      const touched = await stat(path).then(
        (st) => st.mtimeMs,
        () => 0,
      );
      if (Date.now() - touched < LOCK_STALE_MS)
        throw new SpillLockedError(dir, `process ${holder.pid} on host ${holder.host}`);
    }
    await unlink(path).catch(() => undefined);
  }
  throw new SpillLockedError(dir, 'a process that keeps taking it');
}

function parseLock(text: string): { pid: number; host: string } | null {
  try {
    const value = JSON.parse(text) as { pid?: unknown; host?: unknown };
    return typeof value.pid === 'number' && typeof value.host === 'string'
      ? { pid: value.pid, host: value.host }
      : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
