export { healthRoutes, HEALTH_ROUTES, type HealthSource } from './health';
