export * from './labels.js';
export * from './machines.js';
export * from './node-spec.js';
export * from './lifecycle/types.js';
export { isDisruptive, planCluster } from './lifecycle/plan.js';
export { budgetOf, disruptedIn, remediationPaused, unhealthyReason, type PoolState } from './lifecycle/world.js';
export { majority, normaliseVersion, policyOf, type LifecyclePolicy, type PoolLimits } from './lifecycle/policy.js';
export { forecastCluster, type Forecast, type ForecastAction, type ForecastOptions, type ForecastStep } from './lifecycle/forecast.js';
