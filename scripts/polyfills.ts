/**
 * What the local tools need on Node 20, where they run; the Lambda runtime (Node 24) needs none of it. Every entry
 * point imports this module first.
 */

// AWS SDK v3 warns on every process that builds a client under Node 22 (its releases after January 2027 will require
// Node 22). On an older Node the local commands turn that warning off with the SDK's own switch, here, before any
// client exists; processes they start inherit it. A value set by the user is kept.
if (Number(process.versions.node.split('.')[0]) < 22) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

type Resolvers<T> = {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
};

const promiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof promiseCtor.withResolvers !== 'function') {
  promiseCtor.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve'];
    let reject!: Resolvers<T>['reject'];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
