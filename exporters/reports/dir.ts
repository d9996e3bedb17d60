/**
 * `--reports.dir`: report files collected some other way (`.xml`, `.xml.gz`, `.zip`, `.json`, `.json.gz`, or whole
 * mails as `.eml`). Files are left where they are; a file is read again only when its size or time changes,
 * and the state file keeps a report read again (after a restart) from counting twice.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileHandler {
  /** Reads one file (a report, or a mail when `mail`); the stream is destroyed afterwards. */
  file(content: ReadStream, mail: boolean, size: number): Promise<void>;
}

export class DirSource {
  /** name -> size and mtime when read; bounded by the directory's size. */
  private readonly done = new Map<string, string>();

  constructor(
    readonly dir: string,
    private readonly batch: number,
  ) {}

  /** One poll; rejects when the directory cannot be read. */
  async poll(handler: FileHandler, reached: () => void, stopping: () => boolean): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => !n.startsWith('.')).sort();
    reached();
    const present = new Set(names);
    for (const name of this.done.keys()) if (!present.has(name)) this.done.delete(name);
    let handled = 0;
    for (const name of names) {
      if (stopping() || handled >= this.batch) return;
      const path = join(this.dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      const version = `${st.size}:${st.mtimeMs}`;
      if (this.done.get(name) === version) continue;
      handled++;
      const content = createReadStream(path, { highWaterMark: 64 * 1024 });
      try {
        await handler.file(content, /\.eml$/i.test(name), st.size);
      } finally {
        content.destroy();
      }
      this.done.set(name, version);
    }
  }
}
