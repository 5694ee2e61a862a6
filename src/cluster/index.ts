/**
 * `tiercache/cluster`: start, stop and inspect a local Redis Cluster (development and tests).
 */
export {
  clusterStatus,
  formatClusterStatus,
  startCluster,
  stopCluster,
  type ClusterLauncherOptions,
  type ClusterNodeStatus,
  type ClusterStatus,
} from './launcher.js'
