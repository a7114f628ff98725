import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appObjectsOf,
  checkApp,
  goDurationMs,
  SIDECAR_CONTAINER,
} from '../support/deploy-checks.js';
import {
  at,
  KUBERNETES_DIR,
  kubectlKustomize,
  readKustomization,
  readManifests,
  readYamlDocuments,
  renderKustomization,
  REPO_ROOT,
  yamlFilesUnder,
  type KubeObject,
  type Manifest,
} from '../support/deploy-manifests.js';
import { validateAgainstSchema } from '../support/deploy-schemas.js';

const BASE = join(KUBERNETES_DIR, 'base');
const OVERLAY = join(KUBERNETES_DIR, 'overlays', 'example');
const MONITORING = join(KUBERNETES_DIR, 'overlays', 'example-monitoring');
const PLATFORM = join(KUBERNETES_DIR, 'platform');
const POD_MONITOR = join(KUBERNETES_DIR, 'components', 'pod-monitor');
const KUSTOMIZATIONS = [BASE, OVERLAY, MONITORING, PLATFORM];
const COMPONENTS = [POD_MONITOR];
const APPS = [BASE, OVERLAY, MONITORING];

const allFiles = yamlFilesUnder(KUBERNETES_DIR);
const kustomizationFiles = allFiles.filter((f) => f.endsWith('/kustomization.yaml'));

/** The trust-manager Bundle of the platform: its name is the ConfigMap it writes. */
function trustBundle(): { name: string; key: string } {
  const bundle = renderKustomization(PLATFORM).find((m) => m.object.kind === 'Bundle');
  if (bundle === undefined) throw new Error('platform has no trust-manager Bundle');
  return {
    name: bundle.object.metadata.name,
    key: String(at(bundle.object, 'spec', 'target', 'configMap', 'key')),
  };
}

function sortKey(o: KubeObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

describe('deploy/kubernetes: files and kustomizations', () => {
  it('has a base, an example overlay and the platform kustomizations', () => {
    expect(kustomizationFiles.map((f) => relative(KUBERNETES_DIR, f)).sort()).toEqual([
      'base/kustomization.yaml',
      'components/pod-monitor/kustomization.yaml',
      'overlays/example-monitoring/kustomization.yaml',
      'overlays/example/kustomization.yaml',
      'platform/kustomization.yaml',
    ]);
  });

  it.each(KUSTOMIZATIONS.map((d) => [relative(REPO_ROOT, d), d]))(
    '%s: every resource and patch exists',
    (_, dir) => {
      const k = readKustomization(dir);
      expect(k.kind).toBe('Kustomization');
      const paths = [...(k.resources ?? []), ...(k.patches ?? []).map((p) => p.path ?? '(inline)')];
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(existsSync(resolve(dir, p)), `${dir}: ${p}`).toBe(true);
    },
  );

  it('the pod-monitor component is a Component whose resources exist, included only by an overlay', () => {
    const k = readKustomization(POD_MONITOR);
    expect(k.kind).toBe('Component');
    for (const p of k.resources ?? []) expect(existsSync(resolve(POD_MONITOR, p)), p).toBe(true);
    // Optional: the PodMonitor CRD may be missing, so neither the base nor the plain overlay has it.
    for (const dir of [BASE, OVERLAY])
      expect(renderKustomization(dir).map((m) => m.object.kind)).not.toContain('PodMonitor');
    expect(renderKustomization(MONITORING).map((m) => m.object.kind)).toContain('PodMonitor');
  });

  it('every YAML file is a kustomization, a resource or a patch of one (no orphans)', () => {
    const used = new Set<string>(kustomizationFiles);
    for (const dir of [...KUSTOMIZATIONS, ...COMPONENTS]) {
      const k = readKustomization(dir);
      for (const p of [...(k.resources ?? []), ...(k.patches ?? []).map((x) => x.path ?? '')])
        used.add(resolve(dir, p));
    }
    expect(allFiles.filter((f) => !used.has(f))).toEqual([]);
  });

  it('every resource document (not patches) validates against its Kubernetes / cert-manager schema', () => {
    const patches = new Set(
      [...KUSTOMIZATIONS, ...COMPONENTS].flatMap((d) =>
        (readKustomization(d).patches ?? []).map((p) => resolve(d, p.path ?? '')),
      ),
    );
    const resources = allFiles.filter((f) => !f.endsWith('/kustomization.yaml') && !patches.has(f));
    expect(resources.length).toBeGreaterThanOrEqual(7);
    let count = 0;
    for (const file of resources) {
      for (const m of readManifests(file)) {
        expect(
          () => validateAgainstSchema(m.object),
          `${m.file}#${m.index} ${m.object.kind}`,
        ).not.toThrow();
        count++;
      }
    }
    expect(count).toBeGreaterThanOrEqual(9);
  });

  it.each(KUSTOMIZATIONS.map((d) => [relative(REPO_ROOT, d), d]))(
    '%s renders to objects that all validate',
    (_, dir) => {
      const rendered = renderKustomization(dir);
      expect(rendered.length).toBeGreaterThan(0);
      for (const m of rendered)
        expect(() => validateAgainstSchema(m.object), `${m.file} ${m.object.kind}`).not.toThrow();
    },
  );

  it('the schema check itself rejects a broken object (it can fail)', () => {
    const [deployment] = readManifests(join(BASE, 'deployment.yaml'));
    const broken = structuredClone((deployment as Manifest).object);
    (
      at(broken, 'spec', 'template', 'spec', 'initContainers', 0, 'ports', 0) as Record<
        string,
        unknown
      >
    )['containerPort'] = 'fifteen';
    expect(() => validateAgainstSchema(broken)).toThrow(/containerPort/);
    expect(() => validateAgainstSchema({ apiVersion: 'example.com/v1', kind: 'Mystery' })).toThrow(
      /no schema/,
    );
  });

  it('reads modes as YAML 1.1 octal, as the cluster does (0440 is 288)', () => {
    const [deployment] = readManifests(join(BASE, 'deployment.yaml'));
    const volumes = at(
      (deployment as Manifest).object,
      'spec',
      'template',
      'spec',
      'volumes',
    ) as Array<Record<string, unknown>>;
    expect(
      at(
        volumes.find((v) => v['name'] === 'identity'),
        'secret',
        'defaultMode',
      ),
    ).toBe(0o440);
  });

  const kubectlAvailable = kubectlKustomize(PLATFORM) !== undefined;
  it.skipIf(!kubectlAvailable).each(KUSTOMIZATIONS.map((d) => [relative(REPO_ROOT, d), d]))(
    '%s: kubectl kustomize renders the same objects as the test renderer',
    (_, dir) => {
      const theirs = (kubectlKustomize(dir) ?? []) as KubeObject[];
      const ours = renderKustomization(dir).map((m) => m.object);
      expect(theirs.map(sortKey).sort()).toEqual(ours.map(sortKey).sort());
      const byKey = new Map(ours.map((o) => [sortKey(o), o]));
      for (const o of theirs) expect(o, sortKey(o)).toEqual(byKey.get(sortKey(o)));
    },
  );
});

describe('deploy/kubernetes: cross-references', () => {
  const bundle = trustBundle();

  it.each(APPS.map((d) => [relative(REPO_ROOT, d), d]))(
    '%s: Service, probes, mounts, certbound.yaml (real schema) and Certificate agree',
    (_, dir) => {
      const { problems, config } = checkApp(appObjectsOf(renderKustomization(dir)), bundle);
      expect(problems).toEqual([]);
      expect(config?.inbound?.identityHeaderPrefix).toBe('x-certbound-');
      expect(config?.inbound?.keepAuthorization).toBe(false);
    },
  );

  it('the overlay changes the namespace and the SPIFFE ID together, and keeps the base mount paths', () => {
    const base = checkApp(appObjectsOf(renderKustomization(BASE)), bundle).config;
    const overlay = renderKustomization(OVERLAY);
    const cert = overlay.find((m) => m.object.kind === 'Certificate')?.object;
    expect(cert?.metadata.namespace).toBe('shop');
    expect(at(cert, 'spec', 'uris')).toEqual(['spiffe://cluster.local/ns/shop/sa/example-app']);
    const config = checkApp(appObjectsOf(overlay), bundle).config;
    expect(config?.identity).toEqual(base?.identity);
    const ns = overlay.find((m) => m.object.kind === 'Namespace')?.object;
    const selector = at(
      renderKustomization(PLATFORM).find((m) => m.object.kind === 'Bundle')?.object,
      'spec',
      'target',
      'namespaceSelector',
      'matchLabels',
    ) as Record<string, string>;
    for (const [k, v] of Object.entries(selector))
      expect(ns?.metadata.labels?.[k], `namespace label ${k}`).toBe(v);
  });

  it('the Certificate is issued by the platform ClusterIssuer whose CA is in the trust bundle', () => {
    const platform = renderKustomization(PLATFORM).map((m) => m.object);
    const cert = renderKustomization(BASE).find((m) => m.object.kind === 'Certificate')?.object;
    const issuerName = at(cert, 'spec', 'issuerRef', 'name');
    const issuer = platform.find(
      (o) => o.kind === 'ClusterIssuer' && o.metadata.name === issuerName,
    );
    expect(issuer, `ClusterIssuer ${String(issuerName)}`).toBeDefined();
    const caSecret = at(issuer, 'spec', 'ca', 'secretName');
    const sources = at(
      platform.find((o) => o.kind === 'Bundle'),
      'spec',
      'sources',
    ) as unknown[];
    expect(sources.some((s) => at(s, 'secret', 'name') === caSecret)).toBe(true);
  });

  // Each mutation breaks one cross-reference; the check must name it.
  const mutations: Array<[string, (objects: ReturnType<typeof appObjectsOf>) => void, RegExp]> = [
    [
      'Service targets a port the sidecar does not have',
      (o) =>
        ((at(o.service, 'spec', 'ports', 0) as Record<string, unknown>)['targetPort'] =
          'inbound-tls'),
      /targetPort inbound-tls is not a port/,
    ],
    [
      'Service selector does not select the pods',
      (o) =>
        ((at(o.service, 'spec', 'selector') as Record<string, unknown>)['app.kubernetes.io/name'] =
          'other'),
      /service selector/,
    ],
    [
      'readiness probe on the wrong path',
      (o) =>
        ((sidecarOf(o)['readinessProbe'] as { httpGet: { path: string } }).httpGet.path = '/ready'),
      /readinessProbe path \/ready is not \/readyz/,
    ],
    [
      'liveness probe on the inbound port',
      (o) =>
        ((sidecarOf(o)['livenessProbe'] as { httpGet: { port: unknown } }).httpGet.port =
          'inbound'),
      /livenessProbe port inbound is not the admin port/,
    ],
    [
      'identity Secret mounted elsewhere than certPath',
      (o) => (mountOf(o, 'identity')['mountPath'] = '/var/run/secrets/identity'),
      /identity\.certPath .*nothing is mounted/,
    ],
    [
      'identity Secret mounted with subPath',
      (o) => (mountOf(o, 'identity')['subPath'] = 'tls.crt'),
      /subPath/,
    ],
    [
      'Certificate writes another Secret than the mounted one',
      (o) => ((o.certificate['spec'] as Record<string, unknown>)['secretName'] = 'renamed'),
      /not the Certificate's Secret renamed/,
    ],
    [
      'trust bundle volume is the Secret ca.crt instead of the bundle',
      (o) => (mountOf(o, 'trust')['name'] = 'identity'),
      /bundlePath: the volume is not the trust bundle/,
    ],
    [
      'certbound.yaml with an unknown key (real schema)',
      (o) => setConfig(o, (t) => t.replace('logLevel: info', 'logLevel: info\nlogLevl: debug')),
      /certbound\.yaml is invalid.*logLevl/s,
    ],
    [
      'certbound.yaml admin on loopback (kubelet cannot probe)',
      (o) =>
        setConfig(o, (t) =>
          t.replace(/admin:\n(\s+#.*\n)*\s+host: 0\.0\.0\.0/, 'admin:\n  host: 127.0.0.1'),
        ),
      /admin\.host 127\.0\.0\.1/,
    ],
    [
      'certbound.yaml inbound port differs from the container port',
      (o) => setConfig(o, (t) => t.replace('port: 15443', 'port: 16443')),
      /inbound listener is on 16443/,
    ],
    [
      'app reachable on all interfaces',
      (o) =>
        setConfig(o, (t) => t.replace('url: http://127.0.0.1:8080', 'url: http://0.0.0.0:8080')),
      /not loopback/,
    ],
    [
      'grace period shorter than the drain',
      (o) =>
        ((at(o.deployment, 'spec', 'template', 'spec') as Record<string, unknown>)[
          'terminationGracePeriodSeconds'
        ] = 10),
      /terminationGracePeriodSeconds 10/,
    ],
    [
      'writable root filesystem',
      (o) =>
        ((sidecarOf(o)['securityContext'] as Record<string, unknown>)['readOnlyRootFilesystem'] =
          false),
      /certbound: root filesystem is writable/,
    ],
    [
      'key not rotated on renewal',
      (o) =>
        ((at(o.certificate, 'spec', 'privateKey') as Record<string, unknown>)['rotationPolicy'] =
          'Never'),
      /rotationPolicy is not Always/,
    ],
    [
      'server auth usage missing',
      (o) =>
        ((o.certificate['spec'] as Record<string, unknown>)['usages'] = [
          'digital signature',
          'client auth',
        ]),
      /lack "server auth"/,
    ],
    [
      'renewBefore shorter than a token lifetime',
      (o) => ((o.certificate['spec'] as Record<string, unknown>)['renewBefore'] = '30m'),
      /renewBefore is shorter than the token lifetime/,
    ],
    [
      'sidecar as a regular container (starts with, and stops before, the app)',
      (o) => {
        const spec = at(o.deployment, 'spec', 'template', 'spec') as Record<string, unknown[]>;
        const sidecar = sidecarOf(o);
        delete sidecar['restartPolicy'];
        spec['containers'] = [...(spec['containers'] ?? []), sidecar];
        spec['initContainers'] = [];
      },
      /not a native sidecar/,
    ],
    [
      'sidecar init container without restartPolicy: Always',
      (o) => delete sidecarOf(o)['restartPolicy'],
      /no restartPolicy: Always/,
    ],
    ['no startupProbe', (o) => delete sidecarOf(o)['startupProbe'], /no startupProbe/],
    [
      'startupProbe on /readyz (an AS outage would keep the app from starting)',
      (o) =>
        ((sidecarOf(o)['startupProbe'] as { httpGet: { path: string } }).httpGet.path = '/readyz'),
      /startupProbe path \/readyz is not \/healthz/,
    ],
    [
      'PodDisruptionBudget that blocks every drain',
      (o) => ((o.podDisruptionBudget['spec'] as Record<string, unknown>)['maxUnavailable'] = 0),
      /blocks every drain/,
    ],
    [
      'PodDisruptionBudget that selects other pods',
      (o) =>
        ((at(o.podDisruptionBudget, 'spec', 'selector', 'matchLabels') as Record<string, unknown>)[
          'app.kubernetes.io/name'
        ] = 'other'),
      /PodDisruptionBudget selector/,
    ],
    [
      'NetworkPolicy with the admin port open to everyone',
      (o) => delete (at(o.networkPolicy, 'spec', 'ingress', 1) as Record<string, unknown>)['from'],
      /admin port from everywhere/,
    ],
    [
      'NetworkPolicy rule without ports (every port open)',
      (o) => delete (at(o.networkPolicy, 'spec', 'ingress', 0) as Record<string, unknown>)['ports'],
      /every port/,
    ],
    [
      'NetworkPolicy admitting the app port',
      (o) => (at(o.networkPolicy, 'spec', 'ingress', 0, 'ports') as unknown[]).push({ port: 8080 }),
      /NetworkPolicy admits ports .*8080/,
    ],
    [
      'NetworkPolicy not restricting ingress',
      (o) => ((o.networkPolicy['spec'] as Record<string, unknown>)['policyTypes'] = ['Egress']),
      /does not restrict Ingress/,
    ],
    [
      'SPIFFE ID of another namespace',
      (o) =>
        ((o.certificate['spec'] as Record<string, unknown>)['uris'] = [
          'spiffe://cluster.local/ns/other/sa/example-app',
        ]),
      /does not name namespace default/,
    ],
  ];

  function sidecarOf(o: ReturnType<typeof appObjectsOf>): Record<string, unknown> {
    const containers = at(o.deployment, 'spec', 'template', 'spec', 'initContainers') as Array<
      Record<string, unknown>
    >;
    return containers.find((c) => c['name'] === SIDECAR_CONTAINER) as Record<string, unknown>;
  }
  function mountOf(o: ReturnType<typeof appObjectsOf>, name: string): Record<string, unknown> {
    const mounts = sidecarOf(o)['volumeMounts'] as Array<Record<string, unknown>>;
    return mounts.find((m) => m['name'] === name) as Record<string, unknown>;
  }
  function setConfig(o: ReturnType<typeof appObjectsOf>, edit: (text: string) => string): void {
    const data = o.configMaps[0]?.['data'] as Record<string, string>;
    const next = edit(data['certbound.yaml'] as string);
    if (next === data['certbound.yaml']) throw new Error('mutation did not apply');
    data['certbound.yaml'] = next;
  }

  it('fails when broken: the PodMonitor scrapes the inbound port; its schema check refuses unknown fields', () => {
    const objects = appObjectsOf(renderKustomization(MONITORING));
    expect(checkApp(objects, bundle).problems).toEqual([]);
    const endpoint = at(objects.podMonitor, 'spec', 'podMetricsEndpoints', 0) as Record<
      string,
      unknown
    >;
    endpoint['port'] = 'inbound';
    expect(checkApp(objects, bundle).problems.join('\n')).toMatch(
      /PodMonitor port inbound is not the admin port/,
    );
    endpoint['portt'] = 'admin';
    expect(() => validateAgainstSchema(objects.podMonitor as KubeObject)).toThrow(/portt/);
  });

  it.each(mutations)('fails when broken: %s', (_, mutate, expected) => {
    const objects = appObjectsOf(renderKustomization(BASE));
    mutate(objects);
    expect(checkApp(objects, bundle).problems.join('\n')).toMatch(expected);
  });
});

describe('deploy/kubernetes: helpers', () => {
  it('parses cert-manager durations', () => {
    expect(goDurationMs('24h0m0s')).toBe(86_400_000);
    expect(goDurationMs('90m')).toBe(5_400_000);
    expect(goDurationMs('1h30m')).toBe(5_400_000);
    expect(goDurationMs('soon')).toBeNaN();
  });

  it('reads multi-document files', () => {
    expect(readYamlDocuments(join(PLATFORM, 'ca.yaml'))).toHaveLength(3);
  });
});
