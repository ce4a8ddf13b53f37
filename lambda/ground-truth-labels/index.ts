import { S3Client } from '@aws-sdk/client-s3';
import { getText, parseS3Uri, s3ClientOptions } from '../shared/aws';
import {
  BoundingBoxMetadata,
  GroundTruthLabelsEvent,
  LabelsImported,
  MANIFEST_FIELDS,
  METADATA_SUFFIX,
} from '../../contracts';
import { parseGroundTruthManifest } from '../shared/labels/groundtruth';
import { importLabels } from '../shared/labels/import';
import { ParsedLabels } from '../shared/labels/validate';

const s3 = new S3Client(s3ClientOptions());

/**
 * Class names in class-id order when the event does not give them: the job's own class-map, which it was
 * created with from the configured classes.
 */
export function classesFromManifest(parsed: ParsedLabels, text: string): string[] {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as Record<string, Partial<BoundingBoxMetadata> | undefined>;
      for (const [key, metadata] of Object.entries(value)) {
        const classMap = metadata?.[MANIFEST_FIELDS.classMap];
        if (!key.endsWith(METADATA_SUFFIX) || !classMap) continue;
        for (const [id, name] of Object.entries(classMap)) names.set(Number(id), name);
      }
    } catch {
      // Malformed lines are reported by the parser.
    }
  }
  const fromBoxes = parsed.labels.flatMap((l) => l.boxes.map((b) => b.classId ?? -1));
  const size = Math.max(-1, ...names.keys(), ...fromBoxes) + 1;
  return Array.from({ length: size }, (_, id) => names.get(id) ?? `class-${id}`);
}

/** Converts a Ground Truth labeling job's output manifest into label documents. */
export async function handler(event: GroundTruthLabelsEvent): Promise<LabelsImported> {
  const { bucket, key } = parseS3Uri(event.outputManifestUri);
  const text = await getText(s3, bucket, key);
  const parsed = parseGroundTruthManifest(text, event.outputManifestUri, event.labelAttributeName);
  return importLabels({
    s3,
    datasetBucket: event.datasetBucket,
    classes: event.classes ?? classesFromManifest(parsed, text),
    format: 'groundtruth',
    file: event.outputManifestUri,
    parsed,
  });
}
