#!/usr/bin/env bash
# The cluster suite: starts the local three-node RabbitMQ cluster (scripts/rabbitmq-cluster/),
# runs the vitest project `cluster` against it (TXBOX_TEST_CLUSTER_URLS), and stops the cluster
# and removes its data on every exit path. The default broker on 5672 is not touched. Extra
# arguments go to vitest (a test name filter, for example).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cluster=scripts/rabbitmq-cluster/cluster.sh

trap '"$cluster" stop' EXIT
"$cluster" start
TXBOX_TEST_CLUSTER_URLS=$("$cluster" urls)
export TXBOX_TEST_CLUSTER_URLS
npx vitest run --project cluster "$@"
