import { RawLabel, resolveImageKey } from './validate';

/** Preprocessed image keys by file name without extension: `front` → `images/front.jpg`, `images/shop/front.jpg`. */
export type ImagesByStem = ReadonlyMap<string, readonly string[]>;

/** The image key, or why the label's image cannot be told. */
export type Resolution =
  | { readonly key: string; readonly problem?: undefined }
  | { readonly key?: undefined; readonly problem: string };

const stemOf = (name: string) => name.replace(/\.[^./]*$/, '');
const segments = (path: string) => path.split('/').filter((s) => s !== '' && s !== '.');
const endsWith = (list: readonly string[], tail: readonly string[]) =>
  tail.length <= list.length && tail.every((s, i) => list[list.length - tail.length + i] === s);

/** Indexes existing preprocessed image keys by their file name without extension. */
export function imagesByStem(imageKeys: Iterable<string>): ImagesByStem {
  const index = new Map<string, string[]>();
  for (const key of imageKeys) {
    const stem = stemOf(key.slice(key.lastIndexOf('/') + 1));
    index.set(stem, [...(index.get(stem) ?? []), key]);
  }
  return index;
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
 * The preprocessed image a label means. A label naming its image by a bare file name that several images share
 * (LabelImg writes only the base name in `<filename>`) is placed by its folder hints: the image whose sub-folders
 * the hints end with, the most specific one when several fit (`…/b/shop/front.jpg` → `images/b/shop/front.jpg`
 * over `images/shop/front.jpg`). When no image fits, or hints point at unrelated images, nothing is guessed: the
 * answer is a problem listing the candidates.
 */
export function resolveLabelImage(label: RawLabel, index: ImagesByStem | undefined): Resolution {
  const literal = resolveImageKey(label.imageRef);
  if (!index || !needsLookup(label)) return { key: literal };
  const namesakes = index.get(stemOf(label.imageRef.trim())) ?? [];
  if (namesakes.length <= 1) return { key: namesakes[0] ?? literal };

  const scored = namesakes
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
      `"${label.imageRef}" could be any of ${namesakes.join(', ')}, and the file does not say which ` +
      `(${said || 'it names no folder'}); write the image's key in <filename> (e.g. "${namesakes[0]}"), or ` +
      `lay the XML files out like the images (images/a/b.xml for images/a/b.jpg), and import again`,
  };
}
