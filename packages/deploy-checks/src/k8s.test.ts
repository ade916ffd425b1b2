import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { K8S_NGINX, K8S_NGINX_CONF } from '@predict/stack';
import { k8sBaseFiles, REDIS_CLIENT_LABEL } from './k8s';
import { loadRegistry, REPO_ROOT, SIZING } from './registry';

// Manifests are rendered by `kubectl kustomize` (kustomize built into kubectl) and every object is validated
// against the Kubernetes OpenAPI schemas that kubernetes-models compiles (types, required fields, enums).
const K8S = path.join(REPO_ROOT, 'infra/k8s');
const services = loadRegistry();

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string> };
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
};

/** Throws naming the object and every schema violation; an unknown apiVersion/kind is a violation too. */
function validateManifest(m: Manifest): void {
  const model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!model) throw new Error(`${m.kind} ${m.metadata?.name}: no schema for ${m.apiVersion}/${m.kind}`);
  try {
    new model(m as never).validate();
  } catch (error) {
    throw new Error(`${m.kind} ${m.metadata?.name}: ${(error as Error).message}`, { cause: error });
  }
}

const parseManifests = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Manifest).filter(Boolean);

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const hasKubectl = kubectl.status === 0;
if (!hasKubectl) {
  console.warn('kubectl is not installed: the overlay is not rendered; the base files are validated one by one instead.');
}
function render(dir: string): Manifest[] {
  const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${out.stderr}`);
  return parseManifests(out.stdout);
}
const baseFiles = () => [...k8sBaseFiles(services)].filter(([name]) => name.endsWith('.yaml') && name !== 'kustomization.yaml').flatMap(([, text]) => parseManifests(text));

describe('Kubernetes manifests (infra/k8s)', () => {
  const production = hasKubectl ? render(path.join(K8S, 'overlays/production')) : baseFiles();
  const find = (kind: string, name: string) => production.find((m) => m.kind === kind && m.metadata.name === name);

  it('validates every rendered object against the Kubernetes schemas, and the validator refuses a broken one', () => {
    expect(production.length).toBeGreaterThan(services.length * 5);
    for (const m of production) validateManifest(m);
    const deployment = structuredClone(production.find((m) => m.kind === 'Deployment')) as Manifest;
    const pod = (deployment.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec;
    (pod.containers[0] as { ports: Array<Record<string, unknown>> }).ports[0] = { containerPort: 'http' };
    expect(() => validateManifest(deployment)).toThrow(/containerPort must be integer/);
    delete (pod as Partial<typeof pod>).containers;
    expect(() => validateManifest(deployment)).toThrow(/must have required property containers/);
  });

  (hasKubectl ? it : it.skip)('renders the base on its own too', () => {
    for (const m of render(path.join(K8S, 'base'))) validateManifest(m);
  });

  it('runs every deployable with probes, resources, a non-root read-only container, /tmp and a preStop grace', () => {
    for (const s of services) {
      const deployment = find('Deployment', s.name) as unknown as Deployment;
      expect(deployment).toBeDefined();
      const pod = deployment.spec?.template.spec;
      const container = pod?.containers[0];
      expect(container?.ports).toEqual([{ name: 'http', containerPort: s.port, protocol: 'TCP' }]);
      expect(container?.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container?.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container?.startupProbe?.httpGet?.path).toBe('/health/ready');
      expect(container?.resources?.requests).toEqual({ cpu: SIZING[s.kind].cpuRequest, memory: SIZING[s.kind].memoryRequest });
      expect(container?.resources?.limits?.['memory']).toBe(SIZING[s.kind].k8sMemory);
      expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(container?.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(pod?.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } });
      expect(container?.lifecycle?.preStop?.exec?.command).toEqual(['sleep', '5']);
      expect(pod?.terminationGracePeriodSeconds).toBeGreaterThan(5 + 20);
      expect(container?.envFrom).toEqual([{ configMapRef: { name: 'predict-config' } }]);
      expect(container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(s.nodeOptions);
      const redisUrl = container?.env?.find((e) => e.name === 'REDIS_URL');
      expect(redisUrl?.valueFrom?.secretKeyRef).toMatchObject({ name: 'predict-secrets', key: 'REDIS_URL' });
      if (hasKubectl) expect(container?.image).toBe(`registry.example.com/predict/${s.name}:0.1.0`);

      const service = find('Service', s.name) as unknown as Service;
      expect(service.spec?.ports).toEqual([{ name: 'http', port: s.port, targetPort: 'http', protocol: 'TCP' }]);
      const hpa = find('HorizontalPodAutoscaler', s.name) as unknown as HorizontalPodAutoscaler;
      expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: s.name });
      expect(hpa.spec?.metrics?.[0]?.resource?.name).toBe('cpu');
      const pdb = find('PodDisruptionBudget', s.name) as unknown as PodDisruptionBudget;
      expect(pdb.spec?.selector?.matchLabels).toEqual({ 'app.kubernetes.io/name': s.name });
    }
  });

  it('lets only nginx (and Prometheus from the monitoring namespace) reach a service, and only services and workers reach Redis', () => {
    const policies = production.filter((m) => m.kind === 'NetworkPolicy') as unknown as NetworkPolicy[];
    expect(policies.find((p) => p.metadata?.name === 'default-deny')?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const s of services) {
      const policy = policies.find((p) => p.metadata?.name === `${s.name}-ingress`);
      expect(policy?.spec?.ingress).toEqual([
        {
          from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nginx' } } }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
          ports: [{ protocol: 'TCP', port: s.port }],
        },
      ]);
    }
    const redis = policies.find((p) => p.metadata?.name === 'redis-clients');
    expect(redis?.spec?.podSelector).toEqual({ matchLabels: { [REDIS_CLIENT_LABEL]: 'true' } });
    expect(redis?.spec?.egress?.[0]?.ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
    // The label is on the services' and workers' pods, and on no other pod.
    const labelled = production
      .filter((m) => m.kind === 'Deployment')
      .filter((m) => (m as unknown as Deployment).spec?.template.metadata?.labels?.[REDIS_CLIENT_LABEL] === 'true')
      .map((m) => m.metadata.name);
    expect(labelled.sort()).toEqual(services.map((s) => s.name).sort());
    // nginx may only open connections to the services.
    const nginx = policies.find((p) => p.metadata?.name === 'nginx');
    expect(nginx?.spec?.egress?.map((e) => e.ports?.[0]?.port).sort()).toEqual(services.map((s) => s.port).sort());
  });

  it('routes an Ingress to nginx, whose ConfigMap (the template’s cluster rendering) resolves every service’s pods through a headless Service', () => {
    const ingress = production.find((m) => m.kind === 'Ingress') as unknown as Ingress;
    expect(ingress.spec?.rules?.[0]?.http?.paths[0]?.backend.service).toEqual({ name: 'nginx', port: { name: 'http' } });
    const nginxDeployment = find('Deployment', 'nginx') as unknown as Deployment;
    expect(nginxDeployment.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.30');
    const conf = hasKubectl
      ? (production.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('nginx-config')) as Manifest).data?.['nginx.conf']
      : readFileSync(path.join(K8S, 'base/nginx.conf'), 'utf8');
    expect(conf).toBe(readFileSync(K8S_NGINX_CONF, 'utf8'));
    expect(conf).toMatch(/^\s*resolver kube-dns\.kube-system\.svc\.cluster\.local valid=5s/m);
    expect(conf).toMatch(/^\s*listen 8080;$/m);
    expect(nginxDeployment.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(8080);
    // The namespace nginx's fully qualified names carry is the one the overlay puts the Services in.
    const overlay = parseManifests(readFileSync(path.join(K8S, 'overlays/production/kustomization.yaml'), 'utf8'))[0] as unknown as { namespace: string };
    expect(overlay.namespace).toBe(K8S_NGINX.namespace);
    for (const s of services) {
      const pods = find('Service', `${s.name}-pods`) as unknown as Service;
      expect({ service: s.name, spec: pods?.spec }).toEqual({
        service: s.name,
        spec: { clusterIP: 'None', selector: { 'app.kubernetes.io/name': s.name }, ports: [{ name: 'http', port: s.port, targetPort: 'http', protocol: 'TCP' }] },
      });
      if (hasKubectl) expect((pods as unknown as { metadata: { namespace?: string } }).metadata.namespace).toBe(K8S_NGINX.namespace);
      expect(conf).toContain(`server ${s.name}-pods.${K8S_NGINX.namespace}.svc.cluster.local:${s.port} max_fails=2 fail_timeout=5s resolve;`);
    }
    // What compose's rendering has, the cluster's has: retries for predictions only, rate limits, request ids, JSON errors, route templates.
    for (const line of ['proxy_next_upstream error timeout http_502 http_503 non_idempotent;', 'limit_req_status 429;', 'proxy_set_header X-Request-ID $req_id;', '"code":"rate_limited"', '"~^/iit-risk/v1/patients/[^/]+/features$" "/iit-risk/v1/patients/:patient_id/features";']) {
      expect(conf).toContain(line);
    }
  });

  it('gives every deployable an image in the production overlay', () => {
    const overlay = parseManifests(readFileSync(path.join(K8S, 'overlays/production/kustomization.yaml'), 'utf8'))[0] as unknown as { images: Array<{ name: string }> };
    expect(overlay.images.map((i) => i.name).sort()).toEqual(services.map((s) => `predict/${s.name}`).sort());
  });
});
