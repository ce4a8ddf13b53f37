/** Types for asl-validator 4 (the package ships none): the parts the tests use. */
declare module 'asl-validator' {
  /** One problem found, as asl-validator reports it. */
  interface AslValidationError {
    readonly 'Error code': string;
    readonly Message: string;
  }
  interface AslValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly AslValidationError[];
    errorsText(separator?: string): string;
  }
  /** Validates an Amazon States Language definition (JSON schema, transitions, terminal states, paths, ARNs). */
  function validator(
    definition: object,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): AslValidationResult;
  export = validator;
}
