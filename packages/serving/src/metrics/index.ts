export {
  createServingMetrics,
  Registry,
  HTTP_DURATION_BUCKETS,
  INFERENCE_DURATION_BUCKETS,
  BATCH_SIZE_BUCKETS,
  type ServingMetrics,
} from './metrics';
export { ClusterWorkerRegistry, serveClusterMetrics } from './cluster-metrics';
