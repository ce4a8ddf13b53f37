/**
 * A minimal reader of tar archives (POSIX ustar, with the pax and GNU long-name extensions that GNU tar and
 * Python's tarfile write), enough to pick a few named files out of a model tarball as it streams by. No npm package
 * for tar was in the project; this reads what SageMaker's `model.tar.gz` and local mode's `tar -czf` produce:
 *
 * - each entry is a 512-byte header (name at 0, size in octal at 124, type at 156, `ustar` magic at 257 and, for
 *   long paths, a prefix at 345), then its data padded to a multiple of 512 bytes; two zero blocks end the archive;
 * - a pax header (`x`) holds `<length> path=<name>\n` records naming the next entry; a GNU long-name entry (`L`)
 *   holds the next entry's name as its data; global pax headers (`g`) and every other type are skipped;
 * - names are compared without a leading `./` (tar `-C dir .` writes `./report.html`).
 *
 * Files not asked for are skipped without being kept in memory.
 */

const BLOCK = 512;

/** Raised when the bytes are not a tar archive, end early, or an asked-for file is too large. */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

/** Reads exact byte counts from a stream of chunks, keeping only what has not been consumed yet. */
class ChunkReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** The next `n` bytes; null only when `mayEnd` and the stream ended before any of them. */
  async read(n: number, mayEnd = false): Promise<Buffer | null> {
    while (this.buffered < n && (await this.pull()));
    if (n === 0 || (mayEnd && this.buffered === 0)) return n === 0 ? Buffer.alloc(0) : null;
    if (this.buffered < n)
      throw new TarError(`The archive ends in the middle of an entry (${n} bytes expected)`);
    const all = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.buffered -= n;
    return all.subarray(0, n);
  }

  /** Drops the next `n` bytes without keeping them. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.pull())) {
        throw new TarError(`The archive ends in the middle of an entry (${left} bytes missing)`);
      }
      const head = this.chunks[0];
      const taken = Math.min(head.length, left);
      if (taken === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(taken);
      this.buffered -= taken;
      left -= taken;
    }
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const { value, done } = await this.source.next();
    if (done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.from(value);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    return true;
  }
}

/** A NUL-terminated header field as text. */
function field(header: Buffer, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** The entry's size: octal digits, or base-256 (GNU) when the field's first byte has its high bit set. */
function entrySize(header: Buffer): number {
  const raw = header.subarray(124, 136);
  if (raw[0] & 0x80) {
    let size = raw[0] & 0x7f;
    for (const byte of raw.subarray(1)) size = size * 256 + byte;
    return size;
  }
  const text = field(header, 124, 12).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError(`Not a tar archive: the size field reads "${text}"`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** Checks the header checksum: the sum of its bytes with the checksum field read as spaces. */
function checksumMatches(header: Buffer): boolean {
  const stored = parseInt(field(header, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return stored === sum;
}

/** The `path` of a pax extended header's records (`<length> <key>=<value>\n` each), if it has one. */
function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = parseInt(data.subarray(offset, space).toString('ascii'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (record.slice(0, equals) === 'path') path = record.slice(equals + 1);
    offset += length;
  }
  return path;
}

/** A name as compared with the files asked for: without leading `./`. */
function normalized(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

/**
 * The regular files named in `wanted` (paths inside the archive, e.g. `report.html`) from a tar archive's bytes,
 * by name; files the archive lacks are absent from the result. Stops reading once every wanted file is found.
 * @param maxFileBytes - largest wanted file kept, in bytes
 * @throws TarError when the bytes are not a tar archive, the archive ends early, or a wanted file is larger than
 * `maxFileBytes`
 */
export async function extractFiles(
  source: AsyncIterable<Uint8Array>,
  wanted: readonly string[],
  maxFileBytes: number,
): Promise<Map<string, Buffer>> {
  const reader = new ChunkReader(source[Symbol.asyncIterator]());
  const found = new Map<string, Buffer>();
  let longName: string | undefined;
  while (found.size < wanted.length) {
    const header = await reader.read(BLOCK, true);
    if (header === null || header.every((byte) => byte === 0)) break;
    if (!checksumMatches(header)) {
      throw new TarError('Not a tar archive: a header checksum does not match (is the file a model.tar.gz?)');
    }
    const size = entrySize(header);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(header[156] || 0x30);
    const prefix = field(header, 257, 5) === 'ustar' ? field(header, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    if (type === 'x' || type === 'L') {
      const data = (await reader.read(padded))!.subarray(0, size);
      longName = type === 'x' ? paxPath(data) : field(data, 0, data.length);
      continue;
    }
    const path = normalized(name);
    if ((type === '0' || type === '7') && wanted.includes(path) && !found.has(path)) {
      if (size > maxFileBytes) {
        throw new TarError(
          `${path} in the archive is ${size} bytes, more than the ${maxFileBytes} this reads`,
        );
      }
      found.set(path, Buffer.from((await reader.read(padded))!.subarray(0, size)));
    } else {
      await reader.skip(padded);
    }
  }
  return found;
}
