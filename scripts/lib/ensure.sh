# Sourced by scripts/test, scripts/demo and scripts/bench: install what is missing, start dockerd.
# Idempotent and quiet when everything is already there. Needs root (or sudo) for apt and dockerd.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$ROOT/node_modules/.bin:$PATH"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

# Debian packages: docker engine, etcd (server + etcdctl), OpenSSH, debootstrap, and the tools the lab uses
# (age and brotli: the tests read backups by hand as an operator would; strace: a test watches the fsyncs that
# make a backup durable).
# kubernetes-client is kubectl 1.20 (Debian 12's), which the lab's kubectl tests drive against the lab's Kubernetes
# API; where another package owns /usr/bin/kubectl (Google Cloud SDK's `kubectl`), the two would clash, so its
# binary is unpacked to .lab-cache/kubernetes-client/usr/bin/kubectl instead (test/helpers/kubectl.ts finds it).
DEBS=(docker.io etcd-server etcd-client openssh-server openssh-client debootstrap iptables iproute2 procps ca-certificates xz-utils openssl busybox-static age brotli strace chromium)
kubectl_owner=$(dpkg-query -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || true)
if [ -z "$kubectl_owner" ] || [ "$kubectl_owner" = kubernetes-client ]; then
  DEBS+=(kubernetes-client)
elif [ ! -x "$ROOT/.lab-cache/kubernetes-client/usr/bin/kubectl" ]; then
  say "unpacking Debian's kubernetes-client (kubectl 1.20) to .lab-cache/ (/usr/bin/kubectl belongs to $kubectl_owner)"
  kc_tmp=$(mktemp -d)
  (cd "$kc_tmp" && apt-get download -qq kubernetes-client 2>/dev/null || { $SUDO apt-get update -qq && apt-get download -qq kubernetes-client; })
  mkdir -p "$ROOT/.lab-cache/kubernetes-client.tmp" && dpkg-deb -x "$kc_tmp"/kubernetes-client_*.deb "$ROOT/.lab-cache/kubernetes-client.tmp"
  rm -rf "$ROOT/.lab-cache/kubernetes-client" && mv "$ROOT/.lab-cache/kubernetes-client.tmp" "$ROOT/.lab-cache/kubernetes-client"
  rm -rf "$kc_tmp"
fi
# Only some runs need more (scripts/bench check compares with Ansible): DR_EXTRA_DEBS="ansible-core".
read -r -a extra_debs <<< "${DR_EXTRA_DEBS:-}"
DEBS+=("${extra_debs[@]}")
need_debs=()
for p in "${DEBS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_debs+=("$p"); done
if [ ${#need_debs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_debs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

# npm packages, exactly as locked.
if [ ! -d "$ROOT/node_modules" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  say "installing npm packages (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi

# A docker engine: start dockerd when none answers.
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/dr-dockerd.log)"
  $SUDO bash -c 'nohup dockerd >/var/log/dr-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dr-dockerd.log" >&2; tail -20 /var/log/dr-dockerd.log >&2; exit 1; }
fi

# The bundled command (bin/dr.js falls back to the TypeScript sources whenever the bundle is older than them).
node "$ROOT/scripts/build.mjs" --quiet
