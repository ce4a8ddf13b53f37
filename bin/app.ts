#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { addNagChecks, buildApp, missingCredentialsNote } from '../lib/app';
import { ConfigError } from '../lib/config';

const note = missingCredentialsNote(process.env);
if (note) process.stderr.write(`${note}\n`);
const app = new App();
try {
  buildApp(app);
} catch (error) {
  // A configuration error is the user's to fix, and its message says how: print that paragraph alone and exit
  // non-zero. `cdk --debug` sets CDK_DEBUG=true, and then it is thrown with its stack trace like any other error.
  if (!(error instanceof ConfigError) || process.env.CDK_DEBUG === 'true') throw error;
  process.stderr.write(`${error.message} (cdk --debug shows where it was raised.)\n`);
  process.exit(1);
}
addNagChecks(app);
app.synth();
