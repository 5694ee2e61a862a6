#!/bin/sh
# Creates the cluster once: redis-1..3 become masters over all 16384 slots, then redis-4..6 are
# attached as replicas of redis-1..3. Exits 0 without changes when the cluster already exists.
set -eu

if redis-cli -h redis-1 cluster info | grep -q '^cluster_slots_assigned:16384'; then
  echo "cluster already created"
  exit 0
fi

# redis-cli --cluster wants addresses; the nodes then announce their hostnames themselves.
ip() { getent hosts "$1" | awk '{print $1}'; }

redis-cli --cluster create "$(ip redis-1):6379" "$(ip redis-2):6379" "$(ip redis-3):6379" --cluster-yes

for pair in "redis-4 redis-1" "redis-5 redis-2" "redis-6 redis-3"; do
  set -- $pair
  master_id=$(redis-cli -h "$2" cluster myid)
  redis-cli --cluster add-node "$(ip "$1"):6379" "$(ip "$2"):6379" --cluster-slave --cluster-master-id "$master_id"
done

# Wait until every node agrees the cluster is up.
for n in redis-1 redis-2 redis-3 redis-4 redis-5 redis-6; do
  until redis-cli -h "$n" cluster info | grep -q '^cluster_state:ok'; do sleep 0.5; done
done
echo "cluster created: 3 masters, 3 replicas"
