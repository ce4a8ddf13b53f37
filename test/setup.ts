// Node 20 lacks Promise.withResolvers, which aws-local-stepfunctions uses; Lambda's Node 24 runtime has it.
import '../local/emulator/polyfills';
