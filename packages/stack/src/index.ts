export { Stack, type StackOptions, type Replica } from './stack';
export { probe, until } from './probe';
export { launchNginx } from './nginx-process';
export { loadServices, presence, entryScript, nodeOptionsFor, REPO_ROOT, type ServiceEntry } from './services';
export { replicaPorts, parseReplicas } from './ports';
export {
  renderNginx,
  composeNginxView,
  localNginxView,
  k8sNginxView,
  k8sPodsHost,
  DEFAULT_RATE_LIMIT,
  COMPOSE_NGINX_CONF,
  K8S_NGINX_CONF,
  K8S_NGINX,
  NGINX_TEMPLATE,
  type RateLimit,
} from './nginx-config';
export { renderLocalPrometheus, ALERT_RULES, DASHBOARD } from './prometheus-config';
export { findCommand } from './system-tools';
