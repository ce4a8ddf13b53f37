import sharp from 'sharp';

/** A box in an image's pixels, as the API and the detections files give it. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** One detection to draw: its label, score and box. */
export interface DrawnDetection {
  readonly label: string;
  readonly score: number;
  readonly box: Box;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A copy of the image (upright: its EXIF orientation applied, as the model saw it) with each detection's box and
 * label drawn on it in red, and the true boxes, when known, dashed in green; JPEG. Used by local mode's API report
 * and by batch detection's annotated copies. The labels are SVG text: where no font is installed (AWS Lambda's
 * runtime has none) the boxes are drawn and the text is not.
 * @throws sharp's error when the bytes are no image it can decode
 */
export async function annotate(
  image: Buffer,
  detections: readonly DrawnDetection[],
  truth: readonly Box[] = [],
): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(image).rotate().metadata();
  const expected = truth.map(
    (box) =>
      `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#34c759" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  const shapes = detections.map(({ label, score, box }) => {
    const text = escapeXml(`${label} ${score.toFixed(2)}`);
    const textY = box.top > 16 ? box.top - 4 : box.top + box.height + 14;
    return (
      `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#ff2d55" stroke-width="3"/>` +
      `<text x="${box.left}" y="${textY}" font-family="sans-serif" font-size="14" fill="#ff2d55" stroke="#000" stroke-width="0.5">${text}</text>`
    );
  });
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${expected.join('')}${shapes.join('')}</svg>`,
  );
  return sharp(image)
    .rotate()
    .composite([{ input: overlay, top: 0, left: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}
