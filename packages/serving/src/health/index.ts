export { healthRouter, HEALTH_ROUTES, type HealthSource } from './health';
