import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { randomUUID } from 'crypto';
import { Json, State, evaluateTemplate, itemProcessorOf, prepareDefinition } from './asl';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './resources';

/** One Distributed Map state to run, and what running it needs. */
export interface DistributedMapRun {
  readonly stateName: string;
  /** The Map state as the definition has it. */
  readonly state: State;
  /** The state's input (after its InputPath). */
  readonly input: Json;
  /** The execution's context object. */
  readonly context: Record<string, unknown>;
  /** The execution's overrides, which also cover the item processor's tasks. */
  readonly overrides: RunOptions['overrides'];
  /** Records a state entered in a child execution. */
  readonly enter: (state: string) => void;
  readonly stateMachine: { readonly arn: string; readonly name: string };
  readonly s3: S3Client;
  readonly log: (message: string) => void;
}

/**
 * A Distributed Map run the way Step Functions runs one: items from the ItemReader (an S3 listing on moto),
 * ItemSelector per item, ItemBatcher batches, the ItemProcessor as child executions (MaxConcurrency, at most 4, at a
 * time), the tolerated failure threshold, and the ResultWriter's manifest and result files in S3.
 */
export async function runDistributedMap(run: DistributedMapRun): Promise<Json> {
  const { stateName, state, input, context, overrides, enter, stateMachine, s3, log } = run;
  const reader = state.ItemReader as { Resource: string; Parameters?: Json; Arguments?: Json } | undefined;
  let items: Json[];
  if (reader) {
    if (!/:s3:listObjectsV2$/.test(reader.Resource)) {
      throw new Error(
        `${stateName}: local mode reads items only with s3:listObjectsV2, not ${reader.Resource}`,
      );
    }
    const params = (await evaluateTemplate(reader.Parameters ?? reader.Arguments, input, context)) as {
      Bucket: string;
      Prefix?: string;
    };
    items = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: params.Bucket,
          Prefix: params.Prefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        items.push({
          Etag: o.ETag,
          Key: o.Key,
          LastModified: Math.floor((o.LastModified?.getTime() ?? 0) / 1000),
          Size: o.Size,
          StorageClass: o.StorageClass ?? 'STANDARD',
        });
      }
      token = page.NextContinuationToken;
    } while (token);
  } else {
    items = (state.ItemsPath
      ? await evaluateTemplate({ 'items.$': state.ItemsPath }, input, context)
      : { items: input }) as unknown as Json[];
    items = (items as unknown as { items: Json[] }).items;
  }
  const selector = state.ItemSelector ?? state.Parameters;
  const selected: Json[] = [];
  for (const [index, value] of items.entries()) {
    selected.push(
      selector
        ? await evaluateTemplate(selector, input, {
            ...context,
            Map: { Item: { Index: index, Value: value } },
          })
        : value,
    );
  }
  const batcher = state.ItemBatcher as { MaxItemsPerBatch?: number; BatchInput?: Json } | undefined;
  let childInputs: Json[] = selected;
  if (batcher) {
    const size = batcher.MaxItemsPerBatch ?? 100;
    const batchInput =
      batcher.BatchInput === undefined
        ? undefined
        : await evaluateTemplate(batcher.BatchInput, input, context);
    childInputs = [];
    for (let i = 0; i < selected.length; i += size) {
      childInputs.push({
        Items: selected.slice(i, i + size),
        ...(batchInput === undefined ? {} : { BatchInput: batchInput }),
      });
    }
  }
  const prepared = prepareDefinition(itemProcessorOf(state));
  const machine = new StateMachine(prepared.definition as never, {
    validationOptions: { noValidate: true },
  });
  const mapRunId = randomUUID();
  const mapRunArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:mapRun:${stateMachine.name}/${stateName}:${mapRunId}`;
  log(`  ${stateName}: ${items.length} items in ${childInputs.length} child executions`);

  type Child = { index: number; input: Json; output?: Json; error?: Error; start: Date; stop?: Date };
  const children: Child[] = childInputs.map((childInput, index) => ({
    index,
    input: childInput,
    start: new Date(),
  }));
  const concurrency = Math.max(1, Math.min(Number(state.MaxConcurrency) || 1000, 4));
  let next = 0;
  const worker = async () => {
    while (next < children.length) {
      const child = children[next++];
      child.start = new Date();
      const execution = machine.run(child.input as never, { overrides, context: context as never });
      const events = (async () => {
        for await (const event of execution.eventLogs)
          if (event.type === 'StateEntered') enter(event.state.name);
      })();
      try {
        child.output = await execution.result;
      } catch (error) {
        child.error = ((error as Error & { cause?: Error }).cause ?? error) as Error;
      }
      await events.catch(() => undefined);
      child.stop = new Date();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, children.length) }, worker));

  const failed = children.filter((child) => child.error);
  const percentage = Number(
    state.ToleratedFailurePercentage ?? (state.ToleratedFailureCount === undefined ? 0 : 100),
  );
  const count = Number(state.ToleratedFailureCount ?? Number.MAX_SAFE_INTEGER);
  if (failed.length > 0 && (failed.length > count || (failed.length * 100) / children.length > percentage)) {
    const error = new Error(
      `${failed.length} of ${children.length} child executions failed, first: ${failed[0].error!.name}: ${failed[0].error!.message}`,
    );
    error.name = 'States.ExceedToleratedFailureThreshold';
    throw error;
  }
  const writer = state.ResultWriter as { Parameters?: Json; Arguments?: Json } | undefined;
  if (!writer) return children.filter((child) => !child.error).map((child) => child.output ?? null);

  const target = (await evaluateTemplate(writer.Parameters ?? writer.Arguments, input, context)) as {
    Bucket: string;
    Prefix?: string;
  };
  const prefix = target.Prefix ? `${target.Prefix.replace(/\/$/, '')}/${mapRunId}` : mapRunId;
  const entry = (child: Child) => ({
    ExecutionArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${stateMachine.name}/${stateName}:${randomUUID()}`,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true },
    Name: `${mapRunId.slice(0, 8)}-${child.index}`,
    ...(child.error
      ? { Error: child.error.name, Cause: child.error.message }
      : { Output: JSON.stringify(child.output), OutputDetails: { Included: true } }),
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
    StartDate: child.start.toISOString(),
    StateMachineArn: `${stateMachine.arn}/${stateName}`,
    Status: child.error ? 'FAILED' : 'SUCCEEDED',
    StopDate: (child.stop ?? new Date()).toISOString(),
  });
  const files: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]> = {
    SUCCEEDED: [],
    FAILED: [],
    PENDING: [],
  };
  for (const status of ['SUCCEEDED', 'FAILED'] as const) {
    const group = children.filter((child) => (status === 'FAILED') === Boolean(child.error));
    if (group.length === 0) continue;
    const body = JSON.stringify(group.map(entry));
    const key = `${prefix}/${status}_0.json`;
    await s3.send(new PutObjectCommand({ Bucket: target.Bucket, Key: key, Body: body }));
    files[status].push({ Key: key, Size: Buffer.byteLength(body) });
  }
  const manifestKey = `${prefix}/manifest.json`;
  await s3.send(
    new PutObjectCommand({
      Bucket: target.Bucket,
      Key: manifestKey,
      Body: JSON.stringify({ DestinationBucket: target.Bucket, MapRunArn: mapRunArn, ResultFiles: files }),
    }),
  );
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: target.Bucket, Key: manifestKey } };
}
