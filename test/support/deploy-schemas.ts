import {
  Certificate,
  ClusterIssuer,
  Issuer,
} from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { Bundle } from '@kubernetes-models/cert-manager/trust.cert-manager.io/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';

/** A kubernetes-models class: construct from a plain object, `validate()` throws on a schema error. */
type ModelClass = new (data: never) => { validate(): void };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * prometheus-operator's PodMonitor (monitoring.coreos.com/v1), which kubernetes-models does not
 * ship: the fields of the CRD these manifests use, with their types, and nothing unknown.
 */
class PodMonitor {
  readonly #data: Obj;
  constructor(data: never) {
    this.#data = data;
  }
  validate(): void {
    const fail = (what: string): never => {
      throw new Error(`PodMonitor: ${what}`);
    };
    const spec = this.#data['spec'];
    if (!isObj(spec)) fail('spec is required');
    const s = spec as Obj;
    for (const key of Object.keys(s))
      if (!['selector', 'podMetricsEndpoints', 'namespaceSelector', 'jobLabel'].includes(key))
        fail(`spec.${key} is not a field this check knows`);
    if (!isObj(s['selector'])) fail('spec.selector is required');
    const endpoints = s['podMetricsEndpoints'];
    if (!Array.isArray(endpoints) || endpoints.length === 0)
      fail('spec.podMetricsEndpoints must be a non-empty list');
    for (const e of endpoints as unknown[]) {
      if (!isObj(e)) fail('spec.podMetricsEndpoints[] must be objects');
      const ep = e as Obj;
      for (const [key, value] of Object.entries(ep)) {
        if (!['port', 'path', 'interval', 'scheme', 'scrapeTimeout'].includes(key))
          fail(`spec.podMetricsEndpoints[].${key} is not a field this check knows`);
        if (typeof value !== 'string') fail(`spec.podMetricsEndpoints[].${key} must be a string`);
      }
      if (ep['scheme'] !== undefined && !['http', 'https'].includes(ep['scheme'] as string))
        fail('spec.podMetricsEndpoints[].scheme must be http or https');
    }
  }
}

/** The schema of every `apiVersion kind` the manifests may use. */
export const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ['apps/v1 Deployment', Deployment],
  ['v1 Service', Service],
  ['v1 ConfigMap', ConfigMap],
  ['v1 Secret', Secret],
  ['v1 ServiceAccount', ServiceAccount],
  ['v1 Namespace', Namespace],
  ['networking.k8s.io/v1 NetworkPolicy', NetworkPolicy],
  ['policy/v1 PodDisruptionBudget', PodDisruptionBudget],
  ['monitoring.coreos.com/v1 PodMonitor', PodMonitor],
  ['cert-manager.io/v1 Certificate', Certificate],
  ['cert-manager.io/v1 Issuer', Issuer],
  ['cert-manager.io/v1 ClusterIssuer', ClusterIssuer],
  ['trust.cert-manager.io/v1alpha1 Bundle', Bundle],
]);

/**
 * Validates one object against its Kubernetes (or cert-manager) OpenAPI schema.
 *
 * @throws Error naming the kind when no schema is known, or the model's ValidationError
 */
export function validateAgainstSchema(object: { apiVersion: string; kind: string }): void {
  const Model = MODELS.get(`${object.apiVersion} ${object.kind}`);
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(structuredClone(object) as never).validate();
}
