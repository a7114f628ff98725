import { basename, dirname, posix } from 'node:path';
import { parseConfig, parseConfigText, type CertboundConfig } from '../../src/config/index.js';
import { isLoopback } from '../../src/loopback.js';
import { at, containersOf, type KubeObject, type Manifest } from './deploy-manifests.js';

/** Name of the certbound container in the pod template. */
export const SIDECAR_CONTAINER = 'certbound';
/** The admin listener's paths (issue 5 §5). */
export const ADMIN_PATHS = {
  liveness: '/healthz',
  readiness: '/readyz',
  metrics: '/metrics',
} as const;
/** Longest access-token lifetime the runbook assumes (docs/operations.md: renewBefore). */
export const ASSUMED_MAX_TOKEN_LIFETIME_MS = 60 * 60_000;
/** Propagation of a renewed Secret to the pod (kubelet sync) plus the file watch, upper bound. */
export const SECRET_PROPAGATION_MS = 5 * 60_000;

type Obj = Record<string, unknown>;

function isMap(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isMap) : [];
}

/** Parses a Go duration as cert-manager writes it (`24h0m0s`, `90m`, `30s`) into ms. */
export function goDurationMs(text: unknown): number {
  if (typeof text !== 'string' || !/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(text)) return Number.NaN;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, n, , u] of text.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g))
    total += Number(n) * (unit[u as string] ?? Number.NaN);
  return total;
}

/** The objects of one rendered application (base or overlay). */
export interface AppObjects {
  deployment: KubeObject;
  service: KubeObject;
  certificate: KubeObject;
  configMaps: KubeObject[];
  serviceAccount: KubeObject | undefined;
  podDisruptionBudget: KubeObject;
  networkPolicy: KubeObject;
  /** Only where the optional pod-monitor component is included. */
  podMonitor: KubeObject | undefined;
}

/** Picks the objects the checks look at; throws when one is missing or duplicated. */
export function appObjectsOf(manifests: readonly Manifest[]): AppObjects {
  const one = (kind: string): KubeObject => {
    const hits = manifests.filter((m) => m.object.kind === kind);
    if (hits.length !== 1) throw new Error(`expected exactly one ${kind}, found ${hits.length}`);
    return (hits[0] as Manifest).object;
  };
  return {
    deployment: one('Deployment'),
    service: one('Service'),
    certificate: one('Certificate'),
    configMaps: manifests.filter((m) => m.object.kind === 'ConfigMap').map((m) => m.object),
    serviceAccount: manifests.find((m) => m.object.kind === 'ServiceAccount')?.object,
    podDisruptionBudget: one('PodDisruptionBudget'),
    networkPolicy: one('NetworkPolicy'),
    podMonitor: manifests.find((m) => m.object.kind === 'PodMonitor')?.object,
  };
}

/** The container port a probe or Service refers to (by name or number). */
function resolvePort(container: Obj, ref: unknown): number | undefined {
  if (typeof ref === 'number') return ref;
  const port = list(container['ports']).find((p) => p['name'] === ref);
  return typeof port?.['containerPort'] === 'number' ? port['containerPort'] : undefined;
}

/** The volume mounted at exactly `dir` in `container`, with its mount. */
function volumeAt(
  podSpec: unknown,
  container: Obj,
  dir: string,
): { mount: Obj; volume: Obj } | undefined {
  const mount = list(container['volumeMounts']).find(
    (m) => posix.normalize(String(m['mountPath'])) === dir,
  );
  if (mount === undefined) return undefined;
  const volume = list(at(podSpec, 'volumes')).find((v) => v['name'] === mount['name']);
  return volume === undefined ? undefined : { mount, volume };
}

/** The `--config` path in the sidecar's args. */
function configPathOf(container: Obj): string | undefined {
  const args = Array.isArray(container['args']) ? container['args'].map(String) : [];
  const i = args.indexOf('--config');
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith('--config='))?.slice('--config='.length);
}

/** Result of {@link checkApp}: every broken cross-reference, and the parsed config. */
export interface AppCheck {
  problems: string[];
  config: CertboundConfig | undefined;
}

/**
 * Checks the cross-references between the Deployment, Service, ConfigMap (certbound.yaml,
 * parsed with the real config loader), Certificate and trust bundle of one application.
 *
 * @param trustBundle name of the trust-manager Bundle (= the ConfigMap it writes) and its key
 */
export function checkApp(
  objects: AppObjects,
  trustBundle: { name: string; key: string },
): AppCheck {
  const problems: string[] = [];
  const { deployment, service, certificate } = objects;
  const podSpec = at(deployment, 'spec', 'template', 'spec');
  const podLabels = (at(deployment, 'spec', 'template', 'metadata', 'labels') ?? {}) as Obj;
  const containers = containersOf(podSpec);
  const sidecar = containers.find((c) => c['name'] === SIDECAR_CONTAINER);
  if (sidecar === undefined)
    return { problems: [`no container named ${SIDECAR_CONTAINER}`], config: undefined };

  // Native sidecar (Kubernetes >= 1.29): an init container that keeps running, so it starts
  // before the app and stops after it.
  const initContainers = list(at(podSpec, 'initContainers'));
  if (!initContainers.includes(sidecar))
    problems.push(`${SIDECAR_CONTAINER} is not a native sidecar (not in initContainers)`);
  else if (sidecar['restartPolicy'] !== 'Always')
    problems.push(
      `${SIDECAR_CONTAINER} init container has no restartPolicy: Always (it would block the app from starting)`,
    );
  const app = containers.filter((c) => c !== sidecar);
  if (app.length === 0 || app.some((c) => initContainers.includes(c)))
    problems.push('the app containers must be regular containers');

  // Labels: Deployment selector and Service selector must select the pod template.
  const matchLabels = (at(deployment, 'spec', 'selector', 'matchLabels') ?? {}) as Obj;
  for (const [k, v] of Object.entries(matchLabels))
    if (podLabels[k] !== v)
      problems.push(`deployment selector ${k}=${String(v)} does not match the pod labels`);
  const serviceSelector = (at(service, 'spec', 'selector') ?? {}) as Obj;
  if (Object.keys(serviceSelector).length === 0) problems.push('service has no selector');
  for (const [k, v] of Object.entries(serviceSelector))
    if (podLabels[k] !== v)
      problems.push(`service selector ${k}=${String(v)} does not match the pod labels`);

  // certbound.yaml: the ConfigMap mounted where --config points, validated by the real schema.
  let config: CertboundConfig | undefined;
  const configPath = configPathOf(sidecar);
  if (configPath === undefined) problems.push('sidecar args have no --config <path>');
  else {
    const mounted = volumeAt(podSpec, sidecar, dirname(configPath));
    const cmName = at(mounted?.volume, 'configMap', 'name');
    const cm = objects.configMaps.find((c) => c.metadata.name === cmName);
    const text = at(cm, 'data', basename(configPath));
    if (mounted === undefined)
      problems.push(`config path ${configPath}: no volume mounted at ${dirname(configPath)}`);
    else if (cm === undefined)
      problems.push(
        `config volume refers to ConfigMap ${String(cmName)}, which is not in the manifests`,
      );
    else if (typeof text !== 'string')
      problems.push(`ConfigMap ${cm.metadata.name} has no key ${basename(configPath)}`);
    else {
      try {
        config = parseConfig(
          parseConfigText(text, `ConfigMap ${cm.metadata.name}`),
          {},
          `ConfigMap ${cm.metadata.name}`,
        );
      } catch (err) {
        problems.push(
          `certbound.yaml is invalid: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
  if (config === undefined) return { problems, config };

  // Ports: the Service targets the inbound port; probes hit the admin listener.
  const inboundPort = config.inbound?.port;
  for (const port of list(at(service, 'spec', 'ports'))) {
    const target = port['targetPort'];
    const resolved = resolvePort(sidecar, target);
    if (resolved === undefined)
      problems.push(`service targetPort ${String(target)} is not a port of the sidecar`);
    else if (resolved !== inboundPort)
      problems.push(
        `service targetPort ${String(target)} is ${resolved}, the inbound listener is on ${String(inboundPort)}`,
      );
  }
  if (config.admin === undefined)
    problems.push('certbound.yaml has no admin listener for the probes');
  else if (config.admin.host !== '0.0.0.0' && config.admin.host !== '::')
    problems.push(`admin.host ${config.admin.host} is not reachable by the kubelet (use 0.0.0.0)`);
  for (const [probe, path] of [
    ['startupProbe', ADMIN_PATHS.liveness],
    ['readinessProbe', ADMIN_PATHS.readiness],
    ['livenessProbe', ADMIN_PATHS.liveness],
  ] as const) {
    const get = at(sidecar, probe, 'httpGet');
    if (get === undefined) {
      problems.push(`sidecar has no ${probe}.httpGet`);
      continue;
    }
    if (at(get, 'path') !== path)
      problems.push(`${probe} path ${String(at(get, 'path'))} is not ${path}`);
    const port = resolvePort(sidecar, at(get, 'port'));
    if (port === undefined || port !== config.admin?.port)
      problems.push(
        `${probe} port ${String(at(get, 'port'))} is not the admin port ${String(config.admin?.port)}`,
      );
  }
  const declared = new Map(list(sidecar['ports']).map((p) => [p['name'], p['containerPort']]));
  if (declared.get('inbound') !== inboundPort)
    problems.push(`sidecar port "inbound" is not inbound.port ${String(inboundPort)}`);
  if (declared.get('admin') !== config.admin?.port)
    problems.push(`sidecar port "admin" is not admin.port ${String(config.admin?.port)}`);

  // Identity: cert and key from the Certificate's Secret, bundle from the trust-manager ConfigMap.
  const { certPath, keyPath, bundlePath } = config.identity;
  if (certPath === undefined || keyPath === undefined || bundlePath === undefined) {
    problems.push('identity must use certPath/keyPath/bundlePath in Kubernetes');
    return { problems, config };
  }
  if (dirname(certPath) !== dirname(keyPath))
    problems.push('certPath and keyPath are not in the same Secret volume');
  const secretName = at(certificate, 'spec', 'secretName');
  for (const [key, path, file] of [
    ['certPath', certPath, 'tls.crt'],
    ['keyPath', keyPath, 'tls.key'],
  ] as const) {
    const mounted = volumeAt(podSpec, sidecar, dirname(path));
    if (mounted === undefined)
      problems.push(`identity.${key} ${path}: nothing is mounted at ${dirname(path)}`);
    else {
      if (at(mounted.volume, 'secret', 'secretName') !== secretName)
        problems.push(
          `identity.${key} ${path}: the volume is not the Certificate's Secret ${String(secretName)}`,
        );
      if (mounted.mount['subPath'] !== undefined)
        problems.push(`identity.${key}: a subPath mount never sees renewals`);
    }
    if (basename(path) !== file)
      problems.push(`identity.${key} ${path}: cert-manager writes ${file}`);
  }
  const bundleMount = volumeAt(podSpec, sidecar, dirname(bundlePath));
  if (bundleMount === undefined)
    problems.push(
      `identity.bundlePath ${bundlePath}: nothing is mounted at ${dirname(bundlePath)}`,
    );
  else {
    if (at(bundleMount.volume, 'configMap', 'name') !== trustBundle.name)
      problems.push(
        `identity.bundlePath: the volume is not the trust bundle ConfigMap ${trustBundle.name}`,
      );
    if (bundleMount.mount['subPath'] !== undefined)
      problems.push('identity.bundlePath: a subPath mount never sees updates');
  }
  if (basename(bundlePath) !== trustBundle.key)
    problems.push(`identity.bundlePath ${bundlePath}: the bundle key is ${trustBundle.key}`);

  // The app is reachable only through the sidecar.
  const appUrl = config.inbound?.app.url;
  if (appUrl !== undefined) {
    const url = new URL(appUrl);
    if (!isLoopback(url.hostname)) problems.push(`inbound.app.url ${appUrl} is not loopback`);
    for (const c of containers.filter((x) => x !== sidecar)) {
      if (list(c['ports']).length > 0)
        problems.push(`container ${String(c['name'])} declares ports: only the sidecar may`);
      const args = Array.isArray(c['args']) ? c['args'].map(String) : [];
      if (!args.some((a) => a.includes(`127.0.0.1:${url.port}`)))
        problems.push(`container ${String(c['name'])} does not listen on 127.0.0.1:${url.port}`);
    }
  }

  // Security context of every container and the pod.
  const podSc = at(podSpec, 'securityContext');
  if (at(podSc, 'seccompProfile', 'type') !== 'RuntimeDefault')
    problems.push('pod seccompProfile is not RuntimeDefault');
  for (const c of containers) {
    const name = String(c['name']);
    const sc = c['securityContext'];
    if (at(sc, 'runAsNonRoot') !== true && at(podSc, 'runAsNonRoot') !== true)
      problems.push(`${name}: runAsNonRoot is not set`);
    if (at(sc, 'readOnlyRootFilesystem') !== true)
      problems.push(`${name}: root filesystem is writable`);
    if (at(sc, 'allowPrivilegeEscalation') !== false)
      problems.push(`${name}: privilege escalation allowed`);
    const drop = at(sc, 'capabilities', 'drop');
    if (!Array.isArray(drop) || !drop.includes('ALL'))
      problems.push(`${name}: capabilities not all dropped`);
    for (const kind of ['requests', 'limits'])
      for (const r of ['cpu', 'memory'])
        if (at(c, 'resources', kind, r) === undefined)
          problems.push(`${name}: no resources.${kind}.${r}`);
  }

  // Drain: a native sidecar gets SIGTERM only once the app containers have exited, so the
  // pod must live through the app's preStop sleep, then the sidecar's own and its shutdown grace.
  const sleepOf = (c: Obj): number =>
    Number(at(c, 'lifecycle', 'preStop', 'sleep', 'seconds') ?? 0);
  const appSleep = Math.max(0, ...app.map(sleepOf));
  const sleep = appSleep + sleepOf(sidecar);
  const grace = Number(at(podSpec, 'terminationGracePeriodSeconds') ?? 30);
  if (grace * 1000 < sleep * 1000 + config.shutdownGrace)
    problems.push(
      `terminationGracePeriodSeconds ${grace} < preStop ${sleep}s + shutdownGrace ${config.shutdownGrace / 1000}s`,
    );

  // PodDisruptionBudget: selects these pods and lets a drain proceed one pod at a time.
  const selects = (selector: unknown, what: string): void => {
    const labels = (at(selector, 'matchLabels') ?? {}) as Obj;
    if (Object.keys(labels).length === 0) problems.push(`${what} selects every pod`);
    for (const [k, v] of Object.entries(labels))
      if (podLabels[k] !== v) problems.push(`${what} selector ${k}=${String(v)} misses the pods`);
  };
  const pdb = objects.podDisruptionBudget;
  selects(at(pdb, 'spec', 'selector'), 'PodDisruptionBudget');
  const replicas = Number(at(deployment, 'spec', 'replicas') ?? 1);
  const maxUnavailable = at(pdb, 'spec', 'maxUnavailable');
  const minAvailable = at(pdb, 'spec', 'minAvailable');
  if (typeof maxUnavailable === 'number') {
    if (maxUnavailable < 1)
      problems.push('PodDisruptionBudget maxUnavailable < 1 blocks every drain');
    if (replicas - maxUnavailable < 1)
      problems.push(`PodDisruptionBudget lets all ${replicas} replicas go at once`);
  } else if (typeof minAvailable === 'number') {
    if (minAvailable >= replicas)
      problems.push(
        `PodDisruptionBudget minAvailable ${minAvailable} >= replicas blocks every drain`,
      );
  } else problems.push('PodDisruptionBudget needs a numeric maxUnavailable or minAvailable');

  // NetworkPolicy: ingress only to the sidecar's inbound port, and to the admin port from a
  // restricted source; no rule without ports (that would open every port).
  const np = objects.networkPolicy;
  selects(at(np, 'spec', 'podSelector'), 'NetworkPolicy');
  const types = (at(np, 'spec', 'policyTypes') ?? []) as unknown[];
  if (!types.includes('Ingress')) problems.push('NetworkPolicy does not restrict Ingress');
  const admitted = new Set<number>();
  for (const rule of list(at(np, 'spec', 'ingress'))) {
    const ports = list(rule['ports']);
    if (ports.length === 0) problems.push('NetworkPolicy has an ingress rule for every port');
    const from = list(rule['from']);
    for (const p of ports) {
      const resolved = resolvePort(sidecar, p['port']);
      if (resolved === undefined) {
        problems.push(`NetworkPolicy port ${String(p['port'])} is not a port of the sidecar`);
        continue;
      }
      admitted.add(resolved);
      if (resolved === config.admin?.port && from.length === 0)
        problems.push('NetworkPolicy admits the admin port from everywhere');
    }
  }
  const wanted = [inboundPort, config.admin?.port].filter((p): p is number => p !== undefined);
  if ([...admitted].sort().join() !== [...wanted].sort().join())
    problems.push(
      `NetworkPolicy admits ports ${[...admitted].join(', ')}, expected only ${wanted.join(', ')}`,
    );

  // PodMonitor (optional component): scrapes the admin port's /metrics of these pods.
  if (objects.podMonitor !== undefined) {
    selects(at(objects.podMonitor, 'spec', 'selector'), 'PodMonitor');
    for (const e of list(at(objects.podMonitor, 'spec', 'podMetricsEndpoints'))) {
      if (resolvePort(sidecar, e['port']) !== config.admin?.port)
        problems.push(`PodMonitor port ${String(e['port'])} is not the admin port`);
      if (e['path'] !== ADMIN_PATHS.metrics)
        problems.push(`PodMonitor path ${String(e['path'])} is not ${ADMIN_PATHS.metrics}`);
    }
  }

  // Certificate: what the binding needs.
  const usages = (at(certificate, 'spec', 'usages') ?? []) as unknown[];
  for (const u of ['client auth', 'server auth', 'digital signature'])
    if (!usages.includes(u)) problems.push(`certificate usages lack "${u}"`);
  if (at(certificate, 'spec', 'privateKey', 'rotationPolicy') !== 'Always')
    problems.push('certificate privateKey.rotationPolicy is not Always');
  const duration = goDurationMs(at(certificate, 'spec', 'duration'));
  const renewBefore = goDurationMs(at(certificate, 'spec', 'renewBefore'));
  if (!(renewBefore < duration))
    problems.push('certificate renewBefore must be shorter than duration');
  if (!(renewBefore >= ASSUMED_MAX_TOKEN_LIFETIME_MS + SECRET_PROPAGATION_MS))
    problems.push(
      'certificate renewBefore is shorter than the token lifetime + propagation (docs/operations.md)',
    );
  const uris = (at(certificate, 'spec', 'uris') ?? []) as unknown[];
  const spiffe = uris.filter(
    (u): u is string => typeof u === 'string' && u.startsWith('spiffe://'),
  );
  if (spiffe.length !== 1)
    problems.push(`certificate must carry exactly one SPIFFE ID, has ${spiffe.length}`);
  else {
    const namespace = deployment.metadata.namespace ?? 'default';
    const sa = at(podSpec, 'serviceAccountName');
    if (!(spiffe[0] as string).endsWith(`/ns/${namespace}/sa/${String(sa)}`))
      problems.push(
        `SPIFFE ID ${spiffe[0] as string} does not name namespace ${namespace} and ServiceAccount ${String(sa)}`,
      );
    if (objects.serviceAccount !== undefined && objects.serviceAccount.metadata.name !== sa)
      problems.push(`serviceAccountName ${String(sa)} is not the ServiceAccount in the manifests`);
  }
  return { problems, config };
}
