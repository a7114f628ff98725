import { watch, type FSWatcher } from 'node:fs';

/** Options of {@link watchDirectories}. */
export interface DirectoryWatchOptions {
  /** Polling period, the fallback when `fs.watch` misses events (NFS, some overlay FS). */
  pollIntervalMs: number;
  /** Called on every change notification and every poll tick; must not throw. */
  onSignal: (reason: 'event' | 'poll') => void;
}

/** A running watch; `close()` stops every watcher and timer. */
export interface DirectoryWatch {
  close(): void;
}

/**
 * Watches directories (not files) so that all three ways a certificate file changes are
 * seen: a Kubernetes `..data` symlink swap and a rename-over replace the directory entry
 * (a watch on the old inode would go silent), an in-place rewrite changes the file.
 * A poll timer backs it up; a watcher that errors (directory removed) is dropped and the
 * poll carries on.
 */
export function watchDirectories(
  dirs: readonly string[],
  options: DirectoryWatchOptions,
): DirectoryWatch {
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(dirs)) {
    try {
      const watcher = watch(dir, { persistent: false }, () => options.onSignal('event'));
      watcher.on('error', () => {
        watcher.close();
      });
      watchers.push(watcher);
    } catch {
      // Directory missing or not watchable: polling covers it.
    }
  }
  const timer = setInterval(() => options.onSignal('poll'), options.pollIntervalMs);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      for (const w of watchers) w.close();
      watchers.length = 0;
    },
  };
}
