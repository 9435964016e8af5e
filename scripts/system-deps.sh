#!/usr/bin/env bash
# Install the Debian packages some tests need (libzbar0 for pyzbar; chromium and a CJK font for
# the browser tests and their screenshots; mosquitto and its clients for the adversary tests);
# only when run as root.
set -u
needed=()
for pkg in libzbar0 chromium fonts-wqy-zenhei mosquitto mosquitto-clients; do
  dpkg -s "$pkg" >/dev/null 2>&1 || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root (or no apt-get): ${needed[*]} not installed; the tests that need them will skip." >&2
  exit 0
fi
echo "system-deps: installing ${needed[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null \
  || echo "system-deps: apt-get could not install ${needed[*]}; the tests that need them will skip." >&2
exit 0
