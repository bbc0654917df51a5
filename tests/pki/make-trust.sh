#!/usr/bin/env bash
# Adds to the test PKI (never for production) what the trusted-list and long-term-evidence
# tests need, without touching the rest of it (make.sh regenerates everything else):
#   lotl-signer   signs the tests' list of lists (EKU tslSigning 0.4.0.2231.3.0), under provider-ca
#   tl-signer     signs the tests' national trusted lists, under provider-ca
#   ocsp          OCSP responder for provider-ca (EKU OCSPSigning, id-pkix-ocsp-nocheck)
# Keys are PKCS#8 PEM, RSA-2048. Validity: 100 years from issue.
set -euo pipefail
cd "$(dirname "$0")"
cat > trust-ext.cnf.tmp <<'CNF'
[tsl]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = 0.4.0.2231.3.0
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ocsp]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
issue() { # name subject ext
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key.pem" 2>/dev/null
  openssl req -new -key "$1.key.pem" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA provider-ca.pem -CAkey provider-ca.key.pem -CAcreateserial \
    -sha256 -days 36500 -extfile trust-ext.cnf.tmp -extensions "$3" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}
issue lotl-signer "/C=EU/O=Ponte Test/CN=Ponte Test LOTL signer" tsl
issue tl-signer "/C=IT/O=Ponte Test/CN=Ponte Test TL signer" tsl
issue ocsp "/C=IT/O=Ponte Test/CN=Ponte Test OCSP responder" ocsp
rm -f trust-ext.cnf.tmp ./*.srl
