#!/bin/sh
# Lab stand-in for RKE's /opt/rke-tools/entrypoint.sh: the container's entrypoint is this script followed by the
# component's whole command line, as RKE writes it.
exec "$@"
