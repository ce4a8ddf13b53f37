/**
 * The one home of the formats shared between the parts of logo-detection: what each Lambda handler receives
 * and returns, what they write to S3, and the live-model record. Every layer (lib/, lambda/, scripts/, local
 * mode) imports from here; this folder imports nothing of theirs.
 */
export * from './pipeline';
export * from './live-model';
export * from './images';
