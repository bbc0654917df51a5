#!/usr/bin/env bash
# Regenerates the test PKI used by Ponte's tests (never for production).
# Output is committed so tests are deterministic; run again only to change it.
#   root-ca          self-signed RSA-2048 root ("Ponte Test Root CA")
#   provider-ca      intermediate under the root (pathlen 0)
#   pec-rsa          PEC provider signer, RSA-2048, EKU emailProtection
#   pec-ec           PEC provider signer, ECDSA P-256, EKU emailProtection
#   pec-other        a second PEC provider (for "signer is not this provider" tests)
#   rem-rsa          REM provider e-seal, RSA-2048 (evidence and REM messages)
#   rem-ec           REM provider e-seal, ECDSA P-256
#   tsa              time-stamping unit, RSA-2048, EKU timeStamping (critical)
#   rogue-ca, rogue  an unrelated root and a signer under it (untrusted chains)
# Keys are PKCS#8 PEM. Validity: 2025-01-01 to 2125-01-01.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.pem ./*.srl ./*.csr ./*.cnf.tmp
START=20250101000000Z
END=21250101000000Z

cat > ext.cnf.tmp <<'CNF'
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[sub_ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[smime]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:$ENV::SAN
[tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

key() { # name rsa|ec
  export SAN=none@invalid
  if [ "$2" = rsa ]; then openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key.pem" 2>/dev/null
  else openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key.pem"; fi
}
selfsigned() { # name subject
  export SAN=none@invalid
  openssl req -new -x509 -key "$1.key.pem" -subj "$2" -sha256 -not_before $START -not_after $END \
    -config ext.cnf.tmp -extensions ca -out "$1.pem" 2>/dev/null || \
  openssl req -new -x509 -key "$1.key.pem" -subj "$2" -sha256 -days 36500 -config ext.cnf.tmp -extensions ca -out "$1.pem"
}
issue() { # name subject issuer ext san
  openssl req -new -key "$1.key.pem" -subj "$2" -out "$1.csr"
  SAN="${5:-none@invalid}" openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key.pem" -CAcreateserial \
    -sha256 -days 36500 -extfile ext.cnf.tmp -extensions "$4" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

key root-ca rsa;     selfsigned root-ca "/C=IT/O=Ponte Test/CN=Ponte Test Root CA"
key provider-ca rsa; issue provider-ca "/C=IT/O=Ponte Test/CN=Ponte Test Provider CA" root-ca sub_ca
key pec-rsa rsa;     issue pec-rsa "/C=IT/O=Gestore Prova S.p.A./CN=Posta Certificata Gestore Prova" provider-ca smime posta-certificata@pec.prova.test
key pec-ec ec;       issue pec-ec "/C=IT/O=Gestore Prova S.p.A./CN=Posta Certificata Gestore Prova EC" provider-ca smime posta-certificata@pec.prova.test
key pec-other rsa;   issue pec-other "/C=IT/O=Altro Gestore S.p.A./CN=Posta Certificata Altro Gestore" provider-ca smime posta-certificata@pec.altro.test
key rem-rsa rsa;     issue rem-rsa "/C=IT/O=Ponte Test REM/CN=Ponte Test REM e-seal" provider-ca smime rem@rem.prova.test
key rem-ec ec;       issue rem-ec "/C=IT/O=Ponte Test REM/CN=Ponte Test REM e-seal EC" provider-ca smime rem@rem.prova.test
key tsa rsa;         issue tsa "/C=IT/O=Ponte Test/CN=Ponte Test TSA (not qualified)" provider-ca tsa
key rogue-ca rsa;    selfsigned rogue-ca "/C=XX/O=Rogue/CN=Rogue Root CA"
key rogue rsa;       issue rogue "/C=XX/O=Rogue/CN=Rogue Signer" rogue-ca smime rogue@rogue.test
cat pec-rsa.pem provider-ca.pem > pec-rsa.chain.pem
bash make-trust.sh   # the trusted-list signers and the OCSP responder
rm -f ext.cnf.tmp ./*.srl
ls
