import { execFileSync } from 'child_process';
import { join } from 'path';
import {
  cubinFor,
  MXNET_GPU_BUILD,
  needsFusionOff,
  SUPPORTED_TRAINING_FAMILIES,
  TRAINING_GPU_FAMILIES,
} from '../lib/training-gpus';

const root = join(__dirname, '..');

/** What the container's start check (logo_detector/mxnet_gpu.py) makes of each compute capability. */
function containerVerdicts(capabilities: string[]): {
  cubins: string[];
  supportedFamilies: string;
  verdicts: Record<string, { env?: Record<string, string>; refused?: string }>;
} {
  const code = `
import json, sys
from logo_detector import mxnet_gpu
verdicts = {}
for text in json.loads(sys.argv[1]):
    major, minor = (int(part) for part in text.split("."))
    try:
        verdicts[text] = {"env": mxnet_gpu.check_compute_capability((major, minor))}
    except mxnet_gpu.UnsupportedGpuError as error:
        verdicts[text] = {"refused": str(error)}
print(json.dumps({"cubins": ["%d.%d" % c for c in mxnet_gpu.CUBINS],
                  "supportedFamilies": mxnet_gpu.SUPPORTED_FAMILIES, "verdicts": verdicts}))
`;
  return JSON.parse(
    execFileSync(join(root, '.venv', 'bin', 'python'), ['-c', code, JSON.stringify(capabilities)], {
      env: { ...process.env, PYTHONPATH: join(root, 'training-container', 'src') },
      encoding: 'utf8',
    }),
  );
}

describe('training GPUs: the CDK app and the container agree', () => {
  const capabilities = [...new Set(TRAINING_GPU_FAMILIES.map((f) => f.computeCapability))];
  const container = containerVerdicts(capabilities);

  test('on the compute capabilities the MXNet build carries code for', () => {
    expect(container.cubins).toEqual(MXNET_GPU_BUILD.cubins);
  });

  test.each(TRAINING_GPU_FAMILIES.map((f) => [f.family, f.computeCapability]))(
    'ml.%s (compute capability %s): runs or is refused alike, with fusion off alike',
    (_family, capability) => {
      const verdict = container.verdicts[capability];
      expect(verdict.refused === undefined).toBe(cubinFor(capability) !== undefined);
      if (verdict.env) expect(verdict.env.MXNET_USE_FUSION === '0').toBe(needsFusionOff(capability));
    },
  );

  test("the container's failure names every family synth accepts", () => {
    for (const { family } of SUPPORTED_TRAINING_FAMILIES) {
      expect(container.supportedFamilies).toMatch(new RegExp(`ml\\.${family}\\b`));
    }
  });
});
