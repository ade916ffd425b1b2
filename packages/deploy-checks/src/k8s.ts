import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IIngress, INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, IService } from 'kubernetes-models/v1';
import { K8S_NGINX, k8sNginxView, renderNginx } from '@predict/stack';
import { SHUTDOWN, SIZING, type Deployable } from './registry';
import { GENERATED, yamlFile } from './yaml-file';

/** Typed with kubernetes-models' interfaces, so a misspelt or misplaced field does not compile. */
type Manifest = IDeployment | IService | IHorizontalPodAutoscaler | IPodDisruptionBudget | INetworkPolicy | IConfigMap | IIngress;

export const PART_OF = 'prediction-services';
export const CONFIG_MAP = 'predict-config';
/** Created by the operator (never committed): REDIS_URL, API_KEYS_PREDICT, API_KEYS_ADMIN. */
export const SECRET = 'predict-secrets';
/** Pods with this label may open connections to Redis (an external URL; its address set by the overlay). */
export const REDIS_CLIENT_LABEL = 'predict.io/redis-client';
const NGINX_PORT = K8S_NGINX.httpPort;

const labels = (name: string, component: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/part-of': PART_OF,
  'app.kubernetes.io/component': component,
});
const selector = (name: string) => ({ 'app.kubernetes.io/name': name });

const secretEnv = (name: string, optional: boolean) => ({ name, valueFrom: { secretKeyRef: { name: SECRET, key: name, optional } } });

const hardenedContainer: IContainer['securityContext'] = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

function deployment(s: Deployable): IDeployment {
  const size = SIZING[s.kind];
  const env: NonNullable<IContainer['env']> = [
    { name: 'PORT', value: String(s.port) },
    secretEnv('REDIS_URL', s.kind === 'prediction'),
    secretEnv('API_KEYS_PREDICT', true),
    secretEnv('API_KEYS_ADMIN', true),
    ...s.secrets.map((name) => secretEnv(name, false)),
  ];
  // The service's own Node/V8 flags (infra/services.json nodeOptions).
  if (s.nodeOptions !== undefined) env.push({ name: 'NODE_OPTIONS', value: s.nodeOptions });
  if (s.kind === 'prediction') env.push({ name: 'WORKERS', value: '1' });
  else {
    // Every queue it knows (WORKER_QUEUES empty), one job per queue at once per pod; a running job hands back at
    // its next chunk within the termination grace. Models: the ones baked into its image (no shared volume
    // here): promote by rolling out the service's and the worker's images together (services/batch-worker).
    env.push({ name: 'WORKER_QUEUES', value: '' }, { name: 'WORKER_CONCURRENCY', value: '1' }, { name: 'WORKER_DRAIN_TIMEOUT_MS', value: String(SHUTDOWN.timeoutMs) });
  }
  const probe = (path: string, periodSeconds: number, failureThreshold: number): IContainer['readinessProbe'] => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: s.name, labels: labels(s.name, s.kind) },
    spec: {
      replicas: size.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector(s.name) },
      // A new pod must be ready before an old one goes: capacity never drops during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...labels(s.name, s.kind), [REDIS_CLIENT_LABEL]: 'true' },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(s.port), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: SHUTDOWN.stopGraceSeconds + 5,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: s.name,
              image: `predict/${s.name}`,
              ports: [{ name: 'http', containerPort: s.port, protocol: 'TCP' }],
              envFrom: [{ configMapRef: { name: CONFIG_MAP } }],
              env,
              // Model load and warm-up (golden check) happen before the first ready answer: liveness waits.
              startupProbe: probe('/health/ready', 5, 36),
              readinessProbe: probe('/health/ready', 5, 2),
              livenessProbe: probe('/health/live', 10, 3),
              // Endpoints are removed asynchronously: keep serving a few seconds before SIGTERM starts the drain.
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              resources: {
                requests: { cpu: size.cpuRequest, memory: size.memoryRequest },
                limits: { cpu: size.cpus === '1.0' ? '1' : size.cpus, memory: size.k8sMemory },
              },
              securityContext: hardenedContainer,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }],
        },
      },
    },
  };
}

function service(name: string, port: number, targetPort: number | string, component: string): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: labels(name, component) },
    spec: { type: 'ClusterIP', selector: selector(name), ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }] },
  };
}

/**
 * The headless Service nginx resolves (`<name>-pods`): its DNS answer lists the ready pods, so nginx balances,
 * retries and ejects per pod (a ClusterIP is one address: nginx could not retry on another pod).
 */
function podsService(s: Deployable): IService {
  const name = `${s.name}${K8S_NGINX.podsSuffix}`;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: labels(s.name, s.kind) },
    spec: { clusterIP: 'None', selector: selector(s.name), ports: [{ name: 'http', port: s.port, targetPort: 'http', protocol: 'TCP' }] },
  };
}

function hpa(s: Deployable): IHorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: s.name, labels: labels(s.name, s.kind) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
      minReplicas: SIZING[s.kind].replicas,
      maxReplicas: SIZING[s.kind].maxReplicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  };
}

function pdb(name: string, component: string): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, labels: labels(name, component) },
    spec: { minAvailable: 1, selector: { matchLabels: selector(name) } },
  };
}

const nginxPeer = { podSelector: { matchLabels: selector('nginx') } };
const monitoringPeer = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };

/** Only nginx (and Prometheus, from the `monitoring` namespace, for /metrics) opens connections to a service. */
function ingressPolicy(s: Deployable): INetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${s.name}-ingress`, labels: labels(s.name, s.kind) },
    spec: {
      podSelector: { matchLabels: selector(s.name) },
      policyTypes: ['Ingress'],
      ingress: [{ from: [nginxPeer, monitoringPeer], ports: [{ protocol: 'TCP', port: s.port }] }],
    },
  };
}

function commonManifests(services: readonly Deployable[]): Manifest[] {
  const all = { podSelector: {} };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: CONFIG_MAP, labels: { 'app.kubernetes.io/part-of': PART_OF } },
      data: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        HOST: '0.0.0.0',
        // nginx reaches the pods from the cluster's pod network.
        TRUST_PROXY: 'uniquelocal',
        SHUTDOWN_GRACE_MS: String(SHUTDOWN.graceMs),
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN.timeoutMs),
        // The services enqueue and the worker consumes under one prefix.
        JOBS_PREFIX: '{predict}',
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', labels: { 'app.kubernetes.io/part-of': PART_OF } },
      spec: { ...all, policyTypes: ['Ingress', 'Egress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-dns', labels: { 'app.kubernetes.io/part-of': PART_OF } },
      spec: {
        ...all,
        policyTypes: ['Egress'],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      },
    },
    {
      // Redis is outside the cluster (REDIS_URL in the Secret); the overlay sets its address range.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'redis-clients', labels: { 'app.kubernetes.io/part-of': PART_OF } },
      spec: {
        podSelector: { matchLabels: { [REDIS_CLIENT_LABEL]: 'true' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '192.0.2.0/24' } }], ports: [{ protocol: 'TCP', port: 6379 }] }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'nginx', labels: labels('nginx', 'gateway') },
      spec: {
        podSelector: { matchLabels: selector('nginx') },
        policyTypes: ['Ingress', 'Egress'],
        // From the ingress controller (any namespace) on nginx's port; out only to the services.
        ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: NGINX_PORT }] }],
        egress: services.map((s) => ({ to: [{ podSelector: { matchLabels: selector(s.name) } }], ports: [{ protocol: 'TCP', port: s.port }] })),
      },
    },
  ];
}

function nginxManifests(): Manifest[] {
  const name = 'nginx';
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels: labels(name, 'gateway') },
      spec: {
        replicas: 2,
        selector: { matchLabels: selector(name) },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels(name, 'gateway') },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 30,
            // The stock image runs as its `nginx` user (101) when the config keeps pid and temp files in /tmp.
            securityContext: { runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name,
                image: 'nginx:1.30',
                ports: [{ name: 'http', containerPort: NGINX_PORT, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 10 },
                startupProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 2, failureThreshold: 15 },
                lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
                securityContext: hardenedContainer,
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'nginx-config' } },
              { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
            ],
          },
        },
      },
    },
    service(name, 80, 'http', 'gateway'),
    pdb(name, 'gateway'),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: PART_OF, labels: labels(name, 'gateway') },
      spec: {
        ingressClassName: 'nginx',
        rules: [{ host: 'predict.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } }] } }],
      },
    },
  ];
}

/** The generated files of infra/k8s/base, by file name. */
export function k8sBaseFiles(services: readonly Deployable[]): Map<string, string> {
  const files = new Map<string, string>();
  const header = (what: string) => GENERATED(what);
  files.set('common.yaml', yamlFile(header('Shared configuration and the namespace-wide network policies.'), ...commonManifests(services)));
  files.set('nginx.yaml', yamlFile(header('nginx, the only way in: Deployment, Service, PodDisruptionBudget, Ingress.'), ...nginxManifests()));
  // The one nginx template's cluster rendering (@predict/stack's k8sNginxView): the same routes, retries and limits as compose.
  files.set('nginx.conf', renderNginx(k8sNginxView([...services])));
  for (const s of services) {
    files.set(
      `${s.name}.yaml`,
      yamlFile(header(`${s.name} (${s.kind}, port ${s.port}).`), deployment(s), service(s.name, s.port, 'http', s.kind), podsService(s), hpa(s), pdb(s.name, s.kind), ingressPolicy(s)),
    );
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    labels: [{ pairs: { 'app.kubernetes.io/part-of': PART_OF }, includeSelectors: false }],
    resources: ['common.yaml', 'nginx.yaml', ...services.map((s) => `${s.name}.yaml`)],
    configMapGenerator: [{ name: 'nginx-config', files: ['nginx.conf'] }],
  };
  files.set('kustomization.yaml', yamlFile(header('The base every overlay starts from (infra/k8s/overlays/*).'), kustomization));
  return files;
}
