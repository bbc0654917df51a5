//! Digest algorithms (SHA-1 for legacy verification, SHA-2 family) with their OIDs and names.

use super::oids;
use const_oid::ObjectIdentifier;

/// A message digest algorithm known to Ponte.
///
/// SHA-1 is accepted only for verifying what others signed (real PEC providers still use it);
/// Ponte never signs with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-1 (OID 1.3.14.3.2.26), legacy.
    Sha1,
    /// SHA-256 (OID 2.16.840.1.101.3.4.2.1).
    Sha256,
    /// SHA-384 (OID 2.16.840.1.101.3.4.2.2).
    Sha384,
    /// SHA-512 (OID 2.16.840.1.101.3.4.2.3).
    Sha512,
}

impl DigestAlgorithm {
    /// Every algorithm, strongest last.
    pub const ALL: [DigestAlgorithm; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oids::SHA1,
            Self::Sha256 => oids::SHA256,
            Self::Sha384 => oids::SHA384,
            Self::Sha512 => oids::SHA512,
        }
    }

    /// The algorithm for an OID, if it is one of ours.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.oid() == *oid)
    }

    /// Ponte's name: `sha1`, `sha256`, `sha384`, `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The algorithm for a name; accepts Ponte's names and the S/MIME `micalg` spellings
    /// (`sha-256`, `SHA1`...), case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        let n: String = name
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self::ALL.into_iter().find(|a| a.name() == n)
    }

    /// The RFC 5751 `micalg` value: `sha-1`, `sha-256`, `sha-384`, `sha-512`.
    pub fn micalg(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        self.ring().output_len()
    }

    pub(crate) fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The digest of `data` with `alg` (the bytes of a large body left on disk read back from
/// its file: [`crate::mime::hole`]).
pub fn digest(alg: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
    crate::mime::hole::digest(alg.ring(), data)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_oids_round_trip() {
        for a in DigestAlgorithm::ALL {
            assert_eq!(DigestAlgorithm::from_oid(&a.oid()), Some(a));
            assert_eq!(DigestAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(DigestAlgorithm::from_name(a.micalg()), Some(a));
        }
        assert_eq!(
            DigestAlgorithm::from_name("SHA1"),
            Some(DigestAlgorithm::Sha1)
        );
        assert_eq!(DigestAlgorithm::from_name("md5"), None);
        assert_eq!(DigestAlgorithm::Sha1.oid().to_string(), "1.3.14.3.2.26");
    }

    #[test]
    fn known_answer_sha256() {
        let d = digest(DigestAlgorithm::Sha256, b"abc");
        assert_eq!(d.len(), 32);
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(
            digest(DigestAlgorithm::Sha1, b"abc")[..4],
            [0xa9, 0x99, 0x3e, 0x36]
        );
    }
}
