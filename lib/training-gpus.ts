/**
 * Which SageMaker GPU families the training image's MXNet build can run on, and why the others are refused.
 *
 * The image trains with `mxnet-cu112` 1.9.1, MXNet's last release. Its build (config/distribution/linux_cu112.cmake)
 * compiles GPU code (cubins) for compute capability 5.0, 6.0, 7.0, 8.0 and 8.6 and embeds no PTX, so nothing can be
 * compiled for a newer GPU when the job starts. NVIDIA's rule: a cubin runs on a GPU of the same major compute
 * capability and an equal or higher minor one (7.0 code runs on a 7.5 T4, 8.6 code on an 8.9 L4), never across a
 * major version (no 8.x code runs on a 9.0 H100). The container checks the same rule when it starts
 * (training-container/src/logo_detector/mxnet_gpu.py), and a test checks the two agree.
 */

/** The MXNet build in the training image, as far as the GPU is concerned. */
export const MXNET_GPU_BUILD = {
  /** The pip package the GPU image installs. */
  package: 'mxnet-cu112 1.9.1',
  /** Compute capabilities the build carries cubins for (no PTX). */
  cubins: ['5.0', '6.0', '7.0', '8.0', '8.6'],
  /**
   * Above this compute capability (the build's newest cubin) the container turns MXNet's kernel fusion off: fusion
   * compiles kernels with NVRTC for the GPU's exact architecture during training, a path never tried on such a GPU.
   */
  fusionNewest: '8.6',
} as const;

/** A SageMaker training instance family with NVIDIA GPUs. */
export interface TrainingGpuFamily {
  /** The family, as in `ml.<family>.<size>`. */
  readonly family: string;
  /** Its GPU. */
  readonly gpu: string;
  /** The GPU's compute capability, `major.minor` (developer.nvidia.com/cuda-gpus). */
  readonly computeCapability: string;
  /** Why the family cannot be used although the build would run on its GPU. */
  readonly unavailable?: string;
}

const P3_RETIRED =
  'AWS has retired P3 instances (customers were asked to move to newer G or P instances by December 2025)';

/** The NVIDIA GPU families SageMaker trains on, supported ones first (in price order), then the refused ones. */
export const TRAINING_GPU_FAMILIES: readonly TrainingGpuFamily[] = [
  { family: 'g4dn', gpu: 'NVIDIA T4', computeCapability: '7.5' },
  { family: 'g5', gpu: 'NVIDIA A10G', computeCapability: '8.6' },
  { family: 'g6', gpu: 'NVIDIA L4', computeCapability: '8.9' },
  { family: 'g6e', gpu: 'NVIDIA L40S', computeCapability: '8.9' },
  { family: 'p4d', gpu: 'NVIDIA A100', computeCapability: '8.0' },
  { family: 'p4de', gpu: 'NVIDIA A100', computeCapability: '8.0' },
  { family: 'p3', gpu: 'NVIDIA V100', computeCapability: '7.0', unavailable: P3_RETIRED },
  { family: 'p3dn', gpu: 'NVIDIA V100', computeCapability: '7.0', unavailable: P3_RETIRED },
  { family: 'p5', gpu: 'NVIDIA H100', computeCapability: '9.0' },
  { family: 'p5e', gpu: 'NVIDIA H200', computeCapability: '9.0' },
  { family: 'p5en', gpu: 'NVIDIA H200', computeCapability: '9.0' },
];

const parse = (capability: string): [number, number] => {
  const [major, minor] = capability.split('.').map(Number);
  return [major, minor];
};

/**
 * The build's cubin a GPU of `computeCapability` runs: the newest one of the same major version and an equal or
 * lower minor, or undefined when there is none (the GPU cannot run the build).
 */
export function cubinFor(computeCapability: string): string | undefined {
  const [major, minor] = parse(computeCapability);
  return MXNET_GPU_BUILD.cubins
    .filter((cubin) => {
      const [cubinMajor, cubinMinor] = parse(cubin);
      return cubinMajor === major && cubinMinor <= minor;
    })
    .at(-1);
}

/** True when MXNet's kernel fusion cannot compile for a GPU of `computeCapability` (the container turns it off). */
export function needsFusionOff(computeCapability: string): boolean {
  const [major, minor] = parse(computeCapability);
  const [newestMajor, newestMinor] = parse(MXNET_GPU_BUILD.fusionNewest);
  return major > newestMajor || (major === newestMajor && minor > newestMinor);
}

/** The families a training job may use: the build runs on their GPU, and AWS still offers them. */
export const SUPPORTED_TRAINING_FAMILIES: readonly TrainingGpuFamily[] = TRAINING_GPU_FAMILIES.filter(
  (f) => !f.unavailable && cubinFor(f.computeCapability),
);

const CUBIN_LIST = `${MXNET_GPU_BUILD.cubins.slice(0, -1).join(', ')} and ${MXNET_GPU_BUILD.cubins.at(-1)}`;
const INSTANCE_TYPE = /^ml\.([a-z0-9]+)\.([a-z0-9]+)$/;

/**
 * Why `instanceType` cannot train this model, as the "expected ..." part of a configuration error, or undefined
 * when it can. Names the family, its GPU and compute capability, the reason, and the families allowed.
 */
export function trainingInstanceProblem(instanceType: string): string | undefined {
  const family = INSTANCE_TYPE.exec(instanceType)?.[1];
  if (SUPPORTED_TRAINING_FAMILIES.some((f) => f.family === family)) return undefined;
  const allowed =
    'a GPU training instance of a family the image runs on: ' +
    SUPPORTED_TRAINING_FAMILIES.map((f) => `ml.${f.family} (${f.gpu})`).join(', ');
  const known = TRAINING_GPU_FAMILIES.find((f) => f.family === family);
  if (!known) {
    const what = family ? `ml.${family} is not one of them` : 'It is not an ml.<family>.<size> instance type';
    return `${allowed}. ${what} (training runs on an NVIDIA GPU; the image's CPU build is for the endpoint)`;
  }
  const gpu = `ml.${known.family} has ${known.gpu} GPUs (compute capability ${known.computeCapability})`;
  if (known.unavailable) return `${allowed}. ${gpu}, which the build runs on, but ${known.unavailable}`;
  return (
    `${allowed}. ${gpu}, and ${MXNET_GPU_BUILD.package} carries GPU code only for compute capability ` +
    `${CUBIN_LIST} and no PTX; a GPU runs only code built for its own major version, ` +
    `so every kernel would fail there ("no kernel image is available")`
  );
}

/** The README's table of training GPU families (Markdown): GPU, compute capability, and whether the image runs. */
export function trainingGpuTable(): string {
  const verdict = (f: TrainingGpuFamily): string => {
    const cubin = cubinFor(f.computeCapability);
    if (!cubin) return `no: no code for ${f.computeCapability.split('.')[0]}.x and no PTX`;
    if (f.unavailable) return 'no: retired by AWS';
    const fusion = needsFusionOff(f.computeCapability)
      ? ', with kernel fusion off (`MXNET_USE_FUSION=0`)'
      : '';
    return `yes: ${cubin === f.computeCapability ? 'native code' : `its ${cubin} code`}${fusion}`;
  };
  return [
    `| family | GPU | compute capability | runs ${MXNET_GPU_BUILD.package} |`,
    '| --- | --- | --- | --- |',
    ...TRAINING_GPU_FAMILIES.map(
      (f) => `| \`ml.${f.family}\` | ${f.gpu} | ${f.computeCapability} | ${verdict(f)} |`,
    ),
  ].join('\n');
}
