/** The parts of a synthesized CloudFormation template local mode reads. */
export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Outputs?: Record<
    string,
    { readonly Value: unknown; readonly Export?: { readonly Name: unknown } }
  >;
  readonly Parameters?: Record<string, { readonly Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

/** Where a template reference (`Ref` or `Fn::GetAtt`) points locally. */
export type PhysicalValues = (
  stack: string,
  logicalId: string,
  resource: CfnResource,
  attribute?: string,
) => unknown;

/**
 * Resolves CloudFormation intrinsic functions in `value` the way CloudFormation would at deploy time, with
 * local physical values: `Ref` (parameters by their default, pseudo parameters from `pseudo`), `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap` (the stack's Mappings) and `Fn::ImportValue`
 * (looked up in the other stacks' exports). Anything else is an error naming it.
 */
export class TemplateResolver {
  constructor(
    private readonly templates: Record<string, CfnTemplate>,
    private readonly pseudo: Record<string, string>,
    private readonly physical: PhysicalValues,
  ) {}

  /** The resolved value of `value`, as seen from stack `stack`. */
  resolve(value: unknown, stack: string): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, stack));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0];
      if (key === 'Ref') return this.ref(arg as string, stack);
      if (key === 'Fn::GetAtt') {
        const [id, ...attr] = typeof arg === 'string' ? arg.split('.') : (arg as string[]);
        return this.getAtt(id, attr.join('.'), stack);
      }
      if (key === 'Fn::Join') {
        const [separator, list] = arg as [string, unknown[]];
        return (this.resolve(list, stack) as unknown[]).join(separator);
      }
      if (key === 'Fn::Sub') return this.sub(arg as string | [string, Record<string, unknown>], stack);
      if (key === 'Fn::Select') {
        const [index, list] = arg as [unknown, unknown];
        return (this.resolve(list, stack) as unknown[])[Number(this.resolve(index, stack))];
      }
      if (key === 'Fn::Split') {
        const [separator, source] = arg as [string, unknown];
        return String(this.resolve(source, stack)).split(separator);
      }
      if (key === 'Fn::ImportValue') return this.importValue(String(this.resolve(arg, stack)));
      if (key === 'Fn::FindInMap') {
        const [map, top, second] = (this.resolve(arg, stack) as string[]).map(String);
        const value = this.templates[stack]?.Mappings?.[map]?.[top]?.[second];
        if (value === undefined) throw new Error(`Stack ${stack} has no mapping ${map}.${top}.${second}`);
        return value;
      }
      if (key.startsWith('Fn::') || key === 'Condition') {
        throw new Error(
          `Local mode cannot resolve ${key} in stack ${stack}; add it to local/emulator/template.ts`,
        );
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v, stack)]));
  }

  private resource(stack: string, logicalId: string): CfnResource {
    const resource = this.templates[stack]?.Resources?.[logicalId];
    if (!resource) throw new Error(`Stack ${stack} has no resource ${logicalId}`);
    return resource;
  }

  private ref(name: string, stack: string): unknown {
    if (name.startsWith('AWS::')) {
      if (name === 'AWS::StackName') return stack;
      if (!(name in this.pseudo)) throw new Error(`Local mode has no value for pseudo parameter ${name}`);
      return this.pseudo[name];
    }
    const parameter = this.templates[stack]?.Parameters?.[name];
    if (parameter) return parameter.Default;
    return this.physical(stack, name, this.resource(stack, name));
  }

  private getAtt(logicalId: string, attribute: string, stack: string): unknown {
    return this.physical(stack, logicalId, this.resource(stack, logicalId), attribute);
  }

  private sub(arg: string | [string, Record<string, unknown>], stack: string): string {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg;
    return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in variables) return String(this.resolve(variables[name], stack));
      const [id, ...attr] = name.split('.');
      return String(attr.length ? this.getAtt(id, attr.join('.'), stack) : this.ref(id, stack));
    });
  }

  private importValue(exportName: string): unknown {
    for (const [stack, template] of Object.entries(this.templates)) {
      for (const output of Object.values(template.Outputs ?? {})) {
        if (output.Export && this.resolve(output.Export.Name, stack) === exportName) {
          return this.resolve(output.Value, stack);
        }
      }
    }
    throw new Error(`No stack exports ${exportName}`);
  }
}

/** Every resource of `type` in a template, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type === type);
}
