import { IResolvable } from 'aws-cdk-lib';

/**
 * A handler's event as the state machine builds it: every field of `E`, optional ones included, each given as
 * its value or as a JSONPath into the state (`JsonPath.stringAt`, `numberAt`, `listAt`, `objectAt`, ...).
 */
export type HandlerEvent<E> = { readonly [K in keyof E]-?: E[K] | IResolvable };

/**
 * The payload of a Lambda task, checked at compile time against the event type its handler declares in
 * `contracts/`: a missing, misspelt or mistyped field fails `tsc`. Name the type explicitly
 * (`handlerEvent<AssembleDatasetEvent>({...})`); without it nothing type-checks.
 * @returns the payload unchanged, for `invoke` or `TaskInput.fromObject`
 */
export function handlerEvent<E = never>(payload: HandlerEvent<NoInfer<E>>): Record<string, unknown> {
  return payload;
}
