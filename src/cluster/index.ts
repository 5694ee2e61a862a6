/**
 * `tiercache/cluster`: start, stop and inspect a local Redis Cluster (development and tests).
 */
export {
  type ClusterLauncherOptions,
  type ClusterNodeStatus,
  type ClusterStatus,
  clusterStatus,
  formatClusterStatus,
  startCluster,
  stopCluster,
} from './launcher.js'
