import { IMAGE_EXTENSION } from '../../../contracts';
import { RawLabel, resolveAmong } from './validate';

/** The preprocessed images that exist, indexed for resolving the image references of label files. */
export interface ImageIndex {
  readonly keys: ReadonlySet<string>;
  /**
   * Image keys by the file name of the raw upload they were made from (the image's own name without the `.jpg`
   * preprocessing appended): `front.png` → `images/front.png.jpg`, `images/shop/front.png.jpg`.
   */
  readonly byName: ReadonlyMap<string, readonly string[]>;
}

/** The image resolved, or why the label's image cannot be told. */
export type Resolution =
  | { readonly key: string; readonly problem?: undefined }
  | { readonly key?: undefined; readonly problem: string };

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const uploadName = (imageKey: string) => baseName(imageKey).slice(0, -IMAGE_EXTENSION.length);
const stemOf = (name: string) => name.replace(/\.[^./]*$/, '');
const segments = (path: string) => path.split('/').filter((s) => s !== '' && s !== '.');
const endsWith = (list: readonly string[], tail: readonly string[]) =>
  tail.length <= list.length && tail.every((s, i) => list[list.length - tail.length + i] === s);

/** Indexes existing preprocessed image keys (those ending in `.jpg`) by the raw file name they were made from. */
export function imageIndex(imageKeys: Iterable<string>): ImageIndex {
  const keys = new Set([...imageKeys].filter((key) => key.endsWith(IMAGE_EXTENSION)));
  const byName = new Map<string, string[]>();
  for (const key of keys) byName.set(uploadName(key), [...(byName.get(uploadName(key)) ?? []), key]);
  return { keys, byName };
}

/**
 * Images a bare file name can mean, in any folder: the image of an upload of that name (`front.png` →
 * `…/front.png.jpg`) and, for a name ending in `.jpg`, the image of that name itself (`front.png.jpg`, as
 * downloaded from images/).
 */
function namesakes(index: ImageIndex, name: string): string[] {
  const own = name.endsWith(IMAGE_EXTENSION)
    ? (index.byName.get(name.slice(0, -IMAGE_EXTENSION.length)) ?? [])
    : [];
  return [...new Set([...(index.byName.get(name) ?? []), ...own])].sort();
}

/** Images in the same folder whose upload had the same name but another extension, for hints. */
function sameStem(index: ImageIndex, imageKey: string): string[] {
  const folder = imageKey.slice(0, imageKey.lastIndexOf('/') + 1);
  const stem = stemOf(uploadName(imageKey));
  return [...index.keys]
    .filter(
      (key) =>
        key.startsWith(folder) && !key.slice(folder.length).includes('/') && stemOf(uploadName(key)) === stem,
    )
    .sort();
}

/** Whether a label names its image by a bare file name and gives folder hints to place it (VOC). */
export function needsLookup(label: RawLabel): boolean {
  return label.folderHints !== undefined && !label.imageRef.replace(/\\/g, '/').includes('/');
}

/**
 * How strongly a folder hint points at an image: the number of the image's folders (below images/) the hint ends
 * with, plus one when it also ends with `images` itself; 0 when it does not point there. The top-level image is
 * pointed at only by a hint ending in `images`.
 */
function support(imageKey: string, folders: readonly string[]): number {
  const below = segments(imageKey).slice(1, -1);
  if (below.length > 0 && !endsWith(folders, below)) return 0;
  return below.length + (endsWith(folders, ['images', ...below]) ? 1 : 0);
}

/**
 * The existing preprocessed image a label means. Its reference is read as {@link resolveAmong} reads it (the
 * extension is part of the name: `front.jpg` and `front.png` are two images). A label naming its image by a bare file
 * name that images in several folders share (LabelImg writes only the base name in `<filename>`) is placed by its
 * folder hints: the image whose sub-folders the hints end with, the most specific one when several fit
 * (`…/b/shop/front.jpg` → `images/b/shop/front.jpg.jpg` over `images/shop/front.jpg.jpg`). When no image fits, or
 * hints point at unrelated images, nothing is guessed: the answer is a problem listing the candidates.
 */
export function resolveLabelImage(label: RawLabel, index: ImageIndex): Resolution {
  const literal = () =>
    resolveAmong(
      label.imageRef,
      (key) => index.keys.has(key),
      (key) => sameStem(index, key),
    );
  if (!needsLookup(label)) return literal();
  const candidates = namesakes(index, label.imageRef.trim());
  if (candidates.length <= 1) return candidates.length === 1 ? { key: candidates[0] } : literal();

  const scored = candidates
    .map((key) => ({
      key,
      score: Math.max(0, ...label.folderHints!.map((hint) => support(key, segments(hint.folders)))),
    }))
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score);
  const best = scored[0];
  const below = (key: string) => segments(key).slice(1, -1);
  const agree =
    best !== undefined &&
    scored.every((c) => c === best || (below(c.key).length > 0 && endsWith(below(best.key), below(c.key))));
  if (best && agree) return { key: best.key };

  const said = label.folderHints!.map((h) => `${h.source} "${h.folders}"`).join(', ');
  return {
    problem:
      `"${label.imageRef}" could be any of ${candidates.join(', ')}, and the file does not say which ` +
      `(${said || 'it names no folder'}); write the image's key in <filename> (e.g. "${candidates[0]}"), or ` +
      `lay the XML files out like the images (images/a/b.xml for images/a/b.jpg), and import again`,
  };
}
