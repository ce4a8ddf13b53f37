/**
 * The server side of the load benchmark, in a process of its own so the load generator does not share its event
 * loop: the SageMaker runtime shim in front of a running `serve`, and the real proxy handler (lambda/detect)
 * behind the local API Gateway stand-in, both on 127.0.0.1.
 *
 * Usage: node --import tsx load-api.ts <serve port>
 * Prints `LOAD_API <url>` once the API listens; stops on SIGTERM or SIGINT.
 */
import { ProxyHandler, startApiServer } from '../../local/emulator/api-gateway';
import { startRuntimeShim } from '../../local/emulator/runtime-shim';

/** The endpoint name the proxy is configured with; the shim answers it with the given `serve`. */
const ENDPOINT_NAME = 'load-bench-endpoint';

async function main(): Promise<void> {
  const servePort = Number(process.argv[2]);
  if (!Number.isInteger(servePort) || servePort <= 0) {
    throw new Error(`usage: load-api.ts <serve port>; got ${JSON.stringify(process.argv[2])}`);
  }
  const runtime = await startRuntimeShim((name) => (name === ENDPOINT_NAME ? servePort : undefined));
  // The handler creates its SDK clients when its module loads, so its environment is set before the import.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: runtime.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    ENDPOINT_NAME,
    LIVE_MODEL_PARAMETER: 'load-bench-live-model',
    DEFAULT_MIN_SCORE: '0.5',
    // As local mode runs the handler: warnings and errors logged, no metrics.
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_METRICS_NAMESPACE: 'logo-detection-bench',
  });
  const { handler } = (await import('../../lambda/detect')) as unknown as { handler: ProxyHandler };
  const api = await startApiServer(handler, {
    onError: (error) => console.error(`API handler error: ${error.message}`),
  });
  const stop = () => {
    void api
      .close()
      .then(() => runtime.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log(`LOAD_API ${api.url}`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
