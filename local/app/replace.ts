import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { writeFileSync } from 'fs';
import { PREFIXES } from '../../contracts';
import { CocoFile, generateDataset } from './dataset';

/** What {@link replacePhoto} did. */
export interface ReplacedPhoto {
  /** The raw key uploaded again. */
  readonly rawKey: string;
  /** The label file with the new photo's boxes in place of the old ones. */
  readonly coco: CocoFile;
}

/**
 * Does what an operator does who replaces a photo: uploads a new picture (another generated image, so other pixels,
 * size and boxes) under the raw key of the first JPEG of the label file, and rewrites the label file (`labelFile`)
 * with the boxes of the new picture, as the operator would label it again. The next execution makes the photo's image
 * again, finds its label out of date and asks for it.
 */
export async function replacePhoto(
  s3: S3Client,
  rawBucket: string,
  coco: CocoFile,
  labelFile: string,
  options: { readonly seed: number; readonly maxSide: number },
): Promise<ReplacedPhoto> {
  const old = coco.images.find((image) => image.file_name.endsWith('.jpg'));
  if (!old) throw new Error('replacePhoto: the label file has no JPEG to replace');
  // The first image of a dataset is a JPEG; another seed gives another picture.
  const [photo] = await generateDataset({ count: 1, seed: options.seed + 1, maxSide: options.maxSide });
  const rawKey = `${PREFIXES.raw}${old.file_name}`;
  await s3.send(new PutObjectCommand({ Bucket: rawBucket, Key: rawKey, Body: photo.data }));
  let id = Math.max(0, ...coco.annotations.map((a) => a.id));
  const replaced: CocoFile = {
    images: coco.images.map((image) =>
      image.id === old.id ? { ...image, width: photo.width, height: photo.height } : image,
    ),
    annotations: [
      ...coco.annotations.filter((a) => a.image_id !== old.id),
      ...photo.boxes.map((box) => ({
        id: ++id,
        image_id: old.id,
        category_id: box.classId + 1,
        bbox: [box.left, box.top, box.width, box.height] as [number, number, number, number],
        area: box.width * box.height,
        iscrowd: 0 as const,
      })),
    ],
    categories: coco.categories,
  };
  writeFileSync(labelFile, JSON.stringify(replaced));
  return { rawKey, coco: replaced };
}
