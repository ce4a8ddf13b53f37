import { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/**
 * Picks a few named files out of a tar archive as it streams by, with `tar-stream` doing the parsing (POSIX ustar,
 * pax and GNU long names, base-256 sizes: what GNU tar and Python's tarfile write for SageMaker's `model.tar.gz` and
 * local mode's `tar -czf`). Names are compared without a leading `./` (tar `-C dir .` writes `./report.html`).
 * Files not asked for are skipped without being kept in memory.
 */

/** Raised when the bytes are not a tar archive, end early, or an asked-for file is too large. */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

/** A name as compared with the files asked for: without leading `./`. */
function normalized(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/** tar-stream's errors, as messages that say what is wrong with the archive. */
function tarError(error: Error): Error {
  if (/invalid tar header/i.test(error.message)) {
    return new TarError('Not a tar archive: a header does not parse (is the file a model.tar.gz?)');
  }
  if (/unexpected end of data/i.test(error.message)) {
    return new TarError('The archive ends in the middle of an entry: the file is cut short');
  }
  return error;
}

/** The whole of one entry's stream, refusing more than `limit` bytes. */
async function readEntry(
  entry: AsyncIterable<unknown>,
  path: string,
  size: number,
  limit: number,
): Promise<Buffer> {
  if (size > limit)
    throw new TarError(`${path} in the archive is ${size} bytes, more than the ${limit} this reads`);
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * The regular files named in `wanted` (paths inside the archive, e.g. `report.html`) from a tar archive's bytes
 * (not gzipped), by name; files the archive lacks are absent from the result. Stops reading once every wanted file
 * is found.
 * @param source - the archive's bytes, in chunks of any size
 * @param maxFileBytes - largest wanted file kept, in bytes
 * @throws TarError when the bytes are not a tar archive, the archive ends early, or a wanted file is larger than
 * `maxFileBytes`; errors of `source` as they come
 */
export async function extractFiles(
  source: AsyncIterable<Uint8Array>,
  wanted: readonly string[],
  maxFileBytes: number,
): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  if (wanted.length === 0) return found;
  // v7 archives (no ustar magic) are read too: their headers carry name, size and type as ustar's do.
  // @types/tar-stream does not declare tar-stream 3's `allowUnknownFormat` option, which extract.js reads.
  const entries = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
  const input = Readable.from(source, { objectMode: false });
  input.on('error', (error) => entries.destroy(error));
  input.pipe(entries);
  try {
    for await (const entry of entries) {
      const path = normalized(entry.header.name);
      const regular = entry.header.type === 'file' || entry.header.type === 'contiguous-file';
      if (regular && wanted.includes(path) && !found.has(path)) {
        found.set(path, await readEntry(entry, path, entry.header.size ?? 0, maxFileBytes));
        if (found.size === wanted.length) break;
      } else {
        entry.resume();
      }
    }
  } catch (error) {
    throw tarError(error as Error);
  } finally {
    input.unpipe(entries);
    input.destroy();
    entries.destroy();
  }
  return found;
}
