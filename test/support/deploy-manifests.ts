import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** deploy/kubernetes. */
export const KUBERNETES_DIR = join(REPO_ROOT, 'deploy', 'kubernetes');

/** One Kubernetes object read from a file. */
export interface Manifest {
  /** Path relative to the repository root. */
  readonly file: string;
  /** Index of the document in its file. */
  readonly index: number;
  readonly object: KubeObject;
}

/** The shape every Kubernetes object shares; the rest is read with {@link at}. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/**
 * Parses every YAML document of a file. Kubernetes reads YAML 1.1 (sigs.k8s.io/yaml), where
 * `0440` is octal: parse the same way so modes and ports mean what the cluster will see.
 */
export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1' });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'bad YAML'}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Every `.yaml`/`.yml` file under `dir`, sorted. */
export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...yamlFilesUnder(full));
    else if (/\.ya?ml$/.test(name)) out.push(full);
  }
  return out;
}

function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const meta = v['metadata'] as Record<string, unknown> | undefined;
  return (
    typeof v['apiVersion'] === 'string' &&
    typeof v['kind'] === 'string' &&
    typeof meta === 'object' &&
    meta !== null &&
    typeof meta['name'] === 'string'
  );
}

/** Reads one file as Kubernetes objects; throws if a document is not one. */
export function readManifests(file: string): Manifest[] {
  return readYamlDocuments(file).map((object, index) => {
    if (!isKubeObject(object))
      throw new Error(
        `${file} document ${index}: not a Kubernetes object (apiVersion/kind/metadata.name)`,
      );
    return { file: relative(REPO_ROOT, file), index, object };
  });
}

/** A kustomization.yaml, the subset of fields these manifests use. */
export interface Kustomization {
  resources?: string[];
  /** Kustomize Components (`kind: Component`) whose resources and patches join this one. */
  components?: string[];
  namespace?: string;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path?: string }>;
  [key: string]: unknown;
}

/** Reads `dir/kustomization.yaml`. */
export function readKustomization(dir: string): Kustomization {
  const [doc] = readYamlDocuments(join(dir, 'kustomization.yaml'));
  return doc as Kustomization;
}

/** Fields of kustomization.yaml that {@link renderKustomization} implements. */
export const RENDERED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'images',
  'patches',
]);

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges a patch into an object: maps merge key by key, lists and scalars are replaced.
 * This is what a strategic-merge patch does for ConfigMap data and for custom resources
 * (no merge keys), the only kinds the overlays patch (checked by the tests).
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(target) || !isMap(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = { ...structuredClone(target) };
  for (const [key, value] of Object.entries(patch)) {
    out[key] = key in out ? mergePatch(out[key], value) : structuredClone(value);
  }
  return out;
}

/** Objects kustomize never puts in a namespace (the cluster-scoped kinds used here). */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterIssuer',
  'Bundle',
  'ClusterRole',
  'ClusterRoleBinding',
]);

/** Every container of a pod template, init containers included. */
export function containersOf(podSpec: unknown): Array<Record<string, unknown>> {
  if (!isMap(podSpec)) return [];
  const list: unknown[] = [podSpec['containers'], podSpec['initContainers']].flatMap(
    (l): unknown[] => (Array.isArray(l) ? (l as unknown[]) : []),
  );
  return list.filter(isMap);
}

function applyImages(object: KubeObject, images: NonNullable<Kustomization['images']>): void {
  const template = at(object, 'spec', 'template', 'spec');
  for (const container of containersOf(template)) {
    const image = container['image'];
    if (typeof image !== 'string') continue;
    const name = image.replace(/[:@].*$/, '');
    const rule = images.find((i) => i.name === name);
    if (rule === undefined) continue;
    const tag = image.slice(name.length);
    container['image'] =
      `${rule.newName ?? name}${rule.newTag === undefined ? tag : `:${rule.newTag}`}`;
  }
}

/**
 * A small kustomize: resources (files and directories), components, namespace, images and
 * patches merged by kind + name. Enough for deploy/kubernetes; the tests compare it with
 * `kubectl kustomize` when kubectl is installed.
 */
export function renderKustomization(dir: string): Manifest[] {
  const k = readKustomization(dir);
  for (const key of Object.keys(k)) {
    if (!RENDERED_FIELDS.has(key))
      throw new Error(
        `${dir}/kustomization.yaml: field ${key} is not rendered by the test kustomize`,
      );
  }
  let out: Manifest[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    out.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readManifests(path)));
  }
  // kustomize: components come after the resources and before this kustomization's patches.
  for (const entry of k.components ?? []) out = applyLayer(resolve(dir, entry), out, true);
  out = applyLayer(dir, out, false);
  return out.map((m) => {
    const object = structuredClone(m.object);
    if (k.namespace !== undefined && !CLUSTER_SCOPED.has(object.kind))
      object.metadata.namespace = k.namespace;
    if (k.images !== undefined) applyImages(object, k.images);
    return { ...m, object };
  });
}

/** A Component's resources and patches (`component`), or a kustomization's patches, over `out`. */
function applyLayer(dir: string, input: Manifest[], component: boolean): Manifest[] {
  const k = readKustomization(dir);
  let out = input;
  if (component) {
    if (k.kind !== 'Component') throw new Error(`${dir}: a component must be kind: Component`);
    for (const key of Object.keys(k))
      if (
        !RENDERED_FIELDS.has(key) ||
        key === 'namespace' ||
        key === 'components' ||
        key === 'images'
      )
        throw new Error(`${dir}/kustomization.yaml: field ${key} is not rendered in a component`);
    for (const entry of k.resources ?? []) out = [...out, ...readManifests(resolve(dir, entry))];
  }
  for (const patch of k.patches ?? []) {
    if (patch.path === undefined) throw new Error(`${dir}: only patches with a path are supported`);
    for (const p of readManifests(resolve(dir, patch.path))) {
      const hits = out.filter(
        (m) => m.object.kind === p.object.kind && m.object.metadata.name === p.object.metadata.name,
      );
      if (hits.length !== 1)
        throw new Error(
          `${p.file}: patch targets ${p.object.kind}/${p.object.metadata.name}, found ${hits.length}`,
        );
      out = out.map((m) =>
        m === hits[0] ? { ...m, object: mergePatch(m.object, p.object) as KubeObject } : m,
      );
    }
  }
  return out;
}

/** Reads a nested value (`at(obj, 'spec', 'template')`), `undefined` when any step is missing. */
export function at(value: unknown, ...path: Array<string | number>): unknown {
  let node: unknown = value;
  for (const step of path) {
    if (typeof step === 'number')
      node = Array.isArray(node) ? (node as unknown[])[step] : undefined;
    else node = isMap(node) ? node[step] : undefined;
  }
  return node;
}

/** Runs `kubectl kustomize dir` when kubectl is installed; `undefined` otherwise. */
export function kubectlKustomize(dir: string): unknown[] | undefined {
  const probe = spawnSync('kubectl', ['version', '--client'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout, { version: '1.1' })
    .map((d) => d.toJS() as unknown)
    .filter((v) => v !== null);
}

/** True when `path` exists (file or directory). */
export function exists(path: string): boolean {
  return existsSync(path);
}
