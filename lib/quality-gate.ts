import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { QualityGateEvent } from '../contracts';
import { QualityGateConfig } from './config';
import { handlerEvent } from './handler-event';
import { invoke, pipelineFunction } from './pipeline-tasks';
import { openBranch, PipelineStage } from './stage';

/** Properties of {@link QualityGate}. */
export interface QualityGateProps {
  /** Lowest validation mAP to deploy, and how far below the live model a new model may score. */
  readonly config: QualityGateConfig;
  /** The live-model record the gate compares against. */
  readonly liveModel: ssm.IStringParameter;
}

/**
 * The quality gate stage: `quality-gate` compares the training job's `best_val_mAP` (from
 * `$.training.FinalMetricDataList`) with the minimum and with the live model's mAP, and puts its decision at
 * `$.gate` ({@link QualityGateResult}). An accepted model goes on to the next stage; a rejected one leaves at
 * {@link rejected}.
 */
export class QualityGate extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Left when the gate rejects the model; `$.gate.reason` says why. */
  public readonly rejected: sfn.INextable;

  constructor(scope: Construct, id: string, props: QualityGateProps) {
    super(scope, id, 'quality-gate');
    const gateFunction = pipelineFunction(this, 'Function', {
      handler: 'quality-gate',
      environment: { LIVE_MODEL_PARAMETER: props.liveModel.parameterName },
    });
    props.liveModel.grantRead(gateFunction);
    const gate = invoke(this, 'Check model quality', gateFunction, {
      payload: handlerEvent<QualityGateEvent>({
        finalMetrics: sfn.JsonPath.objectAt('$.training.FinalMetricDataList'),
        minMap: props.config.minMap,
        tolerance: props.config.tolerance,
      }),
      resultPath: '$.gate',
    });
    this.catchFailures(gate);

    const accepted = new sfn.Choice(this, 'Model accepted?');
    this.startState = gate;
    this.endStates = [openBranch(accepted, sfn.Condition.booleanEquals('$.gate.accept', true))];
    this.rejected = openBranch(accepted);
    gate.next(accepted);
  }
}
