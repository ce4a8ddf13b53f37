/**
 * The one home of the formats shared between the parts of logo-detection: what each Lambda handler receives
 * and returns, where everything lives in S3 and the manifests' fields, the live-model record, and the training
 * job's contract (training-job.json, which the training container reads too). Every layer (lib/, lambda/,
 * scripts/, local mode) imports from here; this folder imports nothing of theirs.
 */
export * from './pipeline';
export * from './s3-layout';
export * from './manifest';
export * from './training-job';
export * from './live-model';
export * from './images';
export * from './prices';
export * from './cost';
