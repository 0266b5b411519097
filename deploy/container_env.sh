# Sourced by deploy/container_check.sh and scripts/fresh_container_check.sh, from the repository
# root: where buildah's settings and the local base image live, with a containers.conf that asks
# for neither ulimits nor cgroups (the sandbox allows neither).
export CACHE_DIR=.container-cache
export CONTAINERS_CONF=$PWD/$CACHE_DIR/containers.conf
export BASE_IMAGE=localhost/python-bookworm-local:3.11
mkdir -p "$CACHE_DIR"
printf '[containers]\ndefault_ulimits = []\ncgroups = "disabled"\n[engine]\ncgroup_manager = "cgroupfs"\n' \
  > "$CONTAINERS_CONF"
