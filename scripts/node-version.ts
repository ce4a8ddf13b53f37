/**
 * Imported first by every command of this project that runs on the developer's Node.js (the operator commands,
 * `npm start`, the benchmarks); the Lambda runtime (Node 24) needs none of it.
 *
 * AWS SDK v3 warns on every process that builds a client under Node 22 (its releases after January 2027 will require
 * Node 22). On an older Node these commands turn that warning off with the SDK's own switch,
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED`, before any client exists; processes they start inherit it. A
 * value set by the user is kept.
 */
if (Number(process.versions.node.split('.')[0]) < 22) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export {};
