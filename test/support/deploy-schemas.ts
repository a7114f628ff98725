import {
  Certificate,
  ClusterIssuer,
  Issuer,
} from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { Bundle } from '@kubernetes-models/cert-manager/trust.cert-manager.io/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';

/** A kubernetes-models class: construct from a plain object, `validate()` throws on a schema error. */
type ModelClass = new (data: never) => { validate(): void };

/** The schema of every `apiVersion kind` the manifests may use. */
export const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ['apps/v1 Deployment', Deployment],
  ['v1 Service', Service],
  ['v1 ConfigMap', ConfigMap],
  ['v1 Secret', Secret],
  ['v1 ServiceAccount', ServiceAccount],
  ['v1 Namespace', Namespace],
  ['networking.k8s.io/v1 NetworkPolicy', NetworkPolicy],
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
