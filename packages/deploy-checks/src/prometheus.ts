import type { Deployable } from './registry';
import { GENERATED, yamlFile } from './yaml-file';

/**
 * Prometheus under docker compose (profile monitoring): every replica scraped directly, never through
 * nginx. Docker's DNS answers a service name with one A record per replica, so DNS discovery follows
 * `--scale` without editing this file.
 */
export function composePrometheusFile(services: readonly Deployable[]): string {
  const config = {
    global: { scrape_interval: '15s', evaluation_interval: '15s' },
    rule_files: ['/etc/predict-monitoring/prometheus/rules/*.yml'],
    scrape_configs: services.map((s) => ({
      job_name: s.name,
      metrics_path: '/metrics',
      dns_sd_configs: [{ names: [s.name], type: 'A', port: s.port, refresh_interval: '15s' }],
    })),
  };
  return yamlFile(GENERATED('Prometheus scrape configuration for docker-compose.yml (mounted at /etc/predict-monitoring).'), config);
}
