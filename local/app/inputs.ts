import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { PREFIXES } from '../../contracts';
import { CocoFile, GeneratedBox, generateDataset, toCoco } from './dataset';

/** An image kept out of the pipeline, to send through the API, with its true boxes when known. */
export interface HeldOutImage {
  readonly name: string;
  readonly data: Buffer;
  readonly truth?: GeneratedBox[];
}

/** What {@link uploadInputs} needs. */
export interface InputOptions {
  /** A folder of your own images (with `labels`); otherwise images are generated. */
  readonly images?: string;
  /** The COCO label file of `images`. */
  readonly labels?: string;
  /** Images to generate. */
  readonly count: number;
  /** Images to hold out for the API (generated ones are extra; your own are the first few, also trained on). */
  readonly holdout: number;
  readonly seed: number;
  readonly classes: string[];
  /** Longest side of generated images. */
  readonly maxSide: number;
  /** Where the generated label file is written. */
  readonly workDir: string;
  readonly stage: (text: string) => void;
  readonly step: (text: string) => void;
}

/**
 * Puts the pipeline's input in place: images under `raw/` in the raw bucket (generated, or from your folder),
 * and the COCO label file the label import will read (generated beside them, or yours as it is).
 */
export async function uploadInputs(
  s3: S3Client,
  rawBucket: string,
  options: InputOptions,
): Promise<{ coco: CocoFile; labelFile: string; heldOut: HeldOutImage[] }> {
  const upload = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: rawBucket, Key: `${PREFIXES.raw}${key}`, Body: body }));
  if (options.images) {
    if (!options.labels) throw new Error('--images needs --labels <coco.json> (the boxes of those images)');
    const coco = JSON.parse(readFileSync(options.labels, 'utf8')) as CocoFile;
    const files = readdirSync(options.images)
      .filter((f) => /\.(jpe?g|png|webp|tiff?)$/i.test(f))
      .sort();
    if (files.length === 0) throw new Error(`No images (.jpg, .png, .webp, .tif) in ${options.images}`);
    options.stage(
      `Uploading ${files.length} images from ${options.images} to s3://${rawBucket}/${PREFIXES.raw}`,
    );
    for (const file of files) await upload(file, readFileSync(join(options.images, file)));
    const heldOut = files.slice(0, options.holdout).map((file) => {
      const entry = coco.images.find((image) => image.file_name === file);
      const truth = coco.annotations
        .filter((a) => a.image_id === entry?.id)
        .map(({ bbox: [left, top, width, height] }) => ({ classId: 0, left, top, width, height }));
      return {
        name: file,
        data: readFileSync(join(options.images!, file)),
        truth: entry ? truth : undefined,
      };
    });
    return { coco, labelFile: options.labels, heldOut };
  }
  options.stage(
    `Generating ${options.count} images (+${options.holdout} held out for the API), seed ${options.seed}`,
  );
  const images = await generateDataset({
    count: options.count + options.holdout,
    seed: options.seed,
    maxSide: options.maxSide,
  });
  const training = images.slice(0, options.count);
  for (const image of training) await upload(image.fileName, image.data);
  const coco = toCoco(training, options.classes);
  const labelFile = join(options.workDir, 'labels.coco.json');
  writeFileSync(labelFile, JSON.stringify(coco));
  options.step(
    `${training.length} images with ${coco.annotations.length} logos uploaded to s3://${rawBucket}/${PREFIXES.raw}`,
  );
  const heldOut = images
    .slice(options.count)
    .map((image) => ({ name: image.fileName, data: image.data, truth: image.boxes }));
  return { coco, labelFile, heldOut };
}

/**
 * Uploads the files of `dir` (pretrained weights the operator put there) under `pretrained/` in the artifacts
 * bucket, where the pipeline looks for them; returns their names (none when the folder does not exist).
 */
export async function uploadPretrained(
  dir: string,
  s3: S3Client,
  artifactsBucket: string,
): Promise<string[]> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()) : [];
  for (const file of files) {
    await s3.send(
      new PutObjectCommand({
        Bucket: artifactsBucket,
        Key: `${PREFIXES.pretrained}${file}`,
        Body: readFileSync(join(dir, file)),
      }),
    );
  }
  return files;
}
