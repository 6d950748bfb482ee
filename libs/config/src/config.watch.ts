// Watching the config file for live policy changes. The file's directory is watched, not the file: editors
// and deploy tools replace files (write a new one, rename it over the old), which a watch on the old inode
// would miss. Bursts of events are debounced into one call.
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface ConfigWatch {
  close(): void;
}

export interface WatchLog {
  warn(message: string): void;
}

/** Calls `onChange` `debounceMs` after the last change to `file`; a watch that cannot start is logged, not fatal. */
export function watchConfigFile(
  file: string,
  debounceMs: number,
  onChange: () => void,
  log: WatchLog,
): ConfigWatch {
  const name = basename(file);
  let timer: NodeJS.Timeout | null = null;
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        onChange();
      }, debounceMs);
      timer.unref();
    });
    watcher.on('error', (err) => log.warn(`config watch failed: ${err.message}`));
  } catch (err) {
    log.warn(`cannot watch ${file}: ${(err as Error).message}; no live reload`);
  }
  return {
    close() {
      watcher?.close();
      watcher = null;
      if (timer) clearTimeout(timer);
    },
  };
}
