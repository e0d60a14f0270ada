#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) for machines without a GPU.
# Bookworm's own Mesa (22.x) is too old for Dawn; Mesa 25 from bookworm-backports works.
# The backports suite is added by reusing the URI of the Debian source apt already has,
# so no registry host name is written here.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && \
   dpkg-query -W -f='${Version}\n' mesa-vulkan-drivers 2>/dev/null | grep -qv '^22\.'; then
  echo "lavapipe already installed: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
  exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

# Find the URI of the main Debian archive among apt's configured sources (deb822 or one-line).
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # Take a stanza whose Suites include "$codename" (the plain suite, not -security).
  uri=$(awk -v cn="$codename" '
    BEGIN { RS=""; FS="\n" }
    {
      u=""; s=""
      for (i=1;i<=NF;i++) {
        if ($i ~ /^URIs:/) { u=$i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u=a[1] }
        if ($i ~ /^Suites:/) { s=" " $i " " }
      }
      if (u != "" && s ~ (" " cn "[ \n]")) { print u; exit }
    }' "$f")
  [ -n "$uri" ] && break
done
if [ -z "$uri" ]; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk -v cn="$codename" '$1=="deb" && $0 !~ /security/ {
        for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1)==cn) { print $i; exit } } }' "$f")
    [ -n "$uri" ] && break
  done
fi
if [ -z "$uri" ]; then
  echo "install-vulkan: could not find the Debian archive URI in apt's sources" >&2
  exit 1
fi

echo "Adding ${codename}-backports from the configured Debian source"
printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$uri" "$codename" | $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers >/dev/null
echo "Installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
