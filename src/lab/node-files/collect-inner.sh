#!/bin/sh
# Runs in a container of the node image; prints on stdout a tar of the inner image: etcd, etcdctl, node, sh and
# the shared libraries they load (found with the dynamic loader, since minbase has no ldd), Debian's externalised
# node builtins (/usr/share/nodejs: acorn, cjs-module-lexer, undici), plus /in's fixtures.
set -e
mkdir -p /out/usr/local/bin /out/opt/dr-lab /out/opt/rke-tools /out/tmp /out/var/lib/rancher/etcd
cp /usr/bin/etcd /usr/bin/etcdctl /out/usr/local/bin/
cp /in/kube-apiserver /in/kubelet /out/usr/local/bin/
cp /in/entrypoint.sh /out/opt/rke-tools/
cp /in/*.mjs /out/opt/dr-lab/
cp -r /in/yaml /out/opt/dr-lab/yaml
chmod 755 /out/usr/local/bin/* /out/opt/rke-tools/entrypoint.sh
chmod 1777 /out/tmp
mkdir -p /out/etc /out/root
echo 'root:x:0:0:root:/root:/bin/sh' > /out/etc/passwd
echo 'root:x:0:' > /out/etc/group
# The basic tools a Debian-based etcd image has, for operators and tests that `docker exec etcd sh -c …`.
utils=""
for u in cat chmod cp date df du env find grep head id ln ls mkdir mv rm rmdir sed seq sha256sum sleep sort stat tail tar touch tr uname wc xargs; do
  utils="$utils usr/bin/$u"
done
libs=$(for b in /usr/bin/node /usr/bin/etcd /usr/bin/etcdctl /usr/bin/dash $(echo "$utils" | sed 's# # /#g'); do /lib64/ld-linux-x86-64.so.2 --list "$b"; done |
  awk '$2 == "=>" && $3 ~ /^\// { print substr($3, 2) } $1 ~ /^\// { print substr($1, 2) }' | sort -u)
cd /
# -h stores what the symlinks point to, so the image needs no merged-/usr links.
tar -c -h -f - $libs usr/bin/node usr/bin/dash bin/sh $utils usr/share/nodejs -C /out .
