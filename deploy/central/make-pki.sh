#!/usr/bin/env bash
# Makes the central stack's PKI with openssl: a CA (10 years) and the broker's TLS certificate
# (825 days, the longest most TLS clients accept) signed by it. Keys are EC P-256, mode 0600.
#
#   ./make-pki.sh [--out DIR] [--renew-broker] NAME [NAME...]
#
# NAME: every DNS name or IP address the agents use to reach the broker (mqtt.example.org,
# 203.0.113.7). `mosquitto` (the service name inside compose) and `localhost` (the container's
# healthcheck) are always added. The CA key is never overwritten: --renew-broker makes a new
# broker key and certificate with the same CA, so no gateway needs a new ca.pem.
# Give ca.pem (never ca.key) to every gateway; keep ca.key offline once the broker is signed.
set -euo pipefail

out="$(dirname "$0")/pki"
renew=false
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --renew-broker) renew=true; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "make-pki: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  echo "make-pki: give the broker's public DNS name(s) or IP address(es)" >&2
  exit 2
fi

mkdir -p "$out"
umask 077
cd "$out"

if [ ! -f ca.key ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -out ca.pem \
    -subj "/O=retrofit-verify/CN=retrofit-verify broker CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  echo "make-pki: made the CA: $out/ca.pem (give it to the gateways), $out/ca.key (keep it safe)"
elif [ -f broker.pem ] && [ "$renew" != true ]; then
  echo "make-pki: $out already holds a CA and a broker certificate; --renew-broker to replace the latter" >&2
  exit 1
fi

san=""
for name in "${names[@]}" mosquitto localhost; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
openssl ecparam -name prime256v1 -genkey -noout -out broker.key.new
openssl req -new -key broker.key.new -out broker.csr -subj "/O=retrofit-verify/CN=${names[0]}"
openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 825 \
  -out broker.pem.new -extfile <(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=${san%,}") 2>/dev/null
mv broker.key.new broker.key
mv broker.pem.new broker.pem
rm -f broker.csr
# The broker runs as its own user in the container: it must read its key (and nothing else does).
chmod 0644 ca.pem broker.pem
chmod 0600 ca.key broker.key
openssl verify -CAfile ca.pem broker.pem >/dev/null
echo "make-pki: broker certificate for ${san%,}: $out/broker.pem"
