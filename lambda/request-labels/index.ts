import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { putJson, s3ClientOptions } from '../shared/aws';
import {
  displayKey,
  PendingLabelRequest,
  pendingLabelRequestKey,
  PREFIXES,
  RequestLabelsEvent,
} from '../../contracts';

const s3 = new S3Client(s3ClientOptions());
const sns = new SNSClient({});

/** The notification asking operators for labels: a subject and a plain-text body with the exact command. */
export function labelRequestMessage(event: RequestLabelsEvent): { subject: string; message: string } {
  const { count, manifestKey, sample, relabel = 0, relabelSample = [] } = event.unlabeled;
  const bucket = event.datasetBucket;
  const more =
    count > sample.length ? `\n  ...and ${count - sample.length} more (all are listed in the manifest)` : '';
  const fresh = count - relabel;
  const replaced =
    relabel === 0
      ? []
      : [
          '',
          `${relabel} of them ${relabel === 1 ? 'was' : 'were'} labeled before, but the photo was replaced since ` +
            '(uploaded again under the same key): the old label is not used any more. Label again:',
          ...relabelSample.map((key) => `  ${displayKey(key)}`),
        ];
  const message = [
    `Pipeline execution ${event.executionName} is waiting for labels: ${count} image${count === 1 ? '' : 's'} ` +
      (relabel === 0
        ? 'have no bounding boxes yet.'
        : `need bounding boxes (${fresh} new, ${relabel} replaced).`),
    ...replaced,
    '',
    `Images: s3://${bucket}/${PREFIXES.images} (grayscale, resized; label these, not the raw uploads)`,
    `Manifest of the images to label: s3://${bucket}/${manifestKey}`,
    'For example:',
    ...sample.map((key) => `  ${displayKey(key)}`),
  ]
    .join('\n')
    .concat(more, '\n\n')
    .concat(
      [
        `Classes (in class-id order): ${event.classes.join(', ')}`,
        '',
        'Accepted label files:',
        '  - a Ground Truth bounding-box output manifest (JSON lines)',
        '  - a COCO object-detection JSON file (images, annotations, categories named as the classes)',
        '  - Pascal VOC XML annotation files (one per image; a file or a directory of them)',
        `Images may be named by the photo's raw name (a.png, shop/a.png) or by their key (${PREFIXES.images}a.png.jpg,`,
        `s3://.../${PREFIXES.images}a.png.jpg); the extension is part of the name. An image listed without boxes is`,
        'recorded as containing none of the classes.',
        '',
        'Import them with:',
        `  npm run import-labels -- --file <path> --dataset-bucket ${bucket} --execution ${event.executionName}`,
        '',
        'The whole file is checked first; if anything is wrong nothing is written and the execution keeps waiting.',
        `To stop the execution instead: npm run import-labels -- --dataset-bucket ${bucket} --execution ${event.executionName} --fail "<reason>"`,
      ].join('\n'),
    );
  const subject = `logo-detection: ${count} image${count === 1 ? '' : 's'} need labels (${event.executionName})`;
  // SNS subjects are limited to 100 characters.
  return { subject: subject.length > 100 ? `${subject.slice(0, 97)}...` : subject, message };
}

/**
 * Import mode: records the task token in the execution's own pending request ({@link pendingLabelRequestKey})
 * and asks operators, through SNS, to import labels.
 */
export async function handler(event: RequestLabelsEvent): Promise<void> {
  if (!event.unlabeled.manifestKey) {
    throw new Error('request-labels needs unlabeled.manifestKey: it is only called when images need labels');
  }
  const request: PendingLabelRequest = {
    taskToken: event.taskToken,
    executionName: event.executionName,
    manifestKey: event.unlabeled.manifestKey,
    count: event.unlabeled.count,
    requestedAt: new Date().toISOString(),
    classes: event.classes,
  };
  await putJson(s3, event.datasetBucket, pendingLabelRequestKey(event.executionName), request, true);
  const { subject, message } = labelRequestMessage(event);
  await sns.send(new PublishCommand({ TopicArn: event.topicArn, Subject: subject, Message: message }));
}
