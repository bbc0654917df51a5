//! User identities in evidence: the Policy-IT `PersonIdentifier` (rem.md §3.6).

use crate::crypto::{self, DigestAlgorithm};

/// The eIDAS `PersonIdentifier` value Policy-IT gives a REM user:
/// `<userCC>/<providerCC>/<UPPERCASE hex SHA-256 of the e-mail address>`, e.g.
/// `IT/IT/FF298B23…BD7B` for `sender@sender-own-domain-only-for-test.it`.
///
/// Which form of the address is hashed: rem.md §3.6 says "lowercase e-mail", but the AgID
/// kit hashes `recC@r2-rems-only-for-test.it` with its upper-case `C` kept
/// (`IT/IT/2D0CF2D8…`, the SHA-256 of the address as written; the all-lower-case form gives
/// `1B0E7215…`). What agrees with every kit value and with RFC 5321 §2.4 (the domain is
/// case-insensitive, the local part belongs to its domain) is: the domain lower-cased, the
/// local part as written. That is what is hashed here, as UTF-8, after removing surrounding
/// white space. An address without `@` is hashed as written (trimmed).
pub fn person_identifier(user_country: &str, provider_country: &str, email: &str) -> String {
    let normalized = normalize_address(email);
    let digest = crypto::digest(DigestAlgorithm::Sha256, normalized.as_bytes());
    let mut out = String::with_capacity(user_country.len() + provider_country.len() + 66);
    out.push_str(user_country);
    out.push('/');
    out.push_str(provider_country);
    out.push('/');
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// `local@domain` with the domain lower-cased (the last `@` separates them).
fn normalize_address(email: &str) -> String {
    let email = email.trim();
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => email.to_owned(),
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_values() {
        // The values of the AgID kit evidences for these three addresses.
        assert_eq!(
            person_identifier("IT", "IT", "sender@sender-own-domain-only-for-test.it"),
            "IT/IT/FF298B2314731420A414483F97CFFA6E4C2EA296C22BEFBC3D5D48EF46A9BD7B"
        );
        assert_eq!(
            person_identifier("IT", "IT", "recC@r2-rems-only-for-test.it"),
            "IT/IT/2D0CF2D8048D536B5D819FD7D5D9D0BE3B1659864597F5F45B2E0F120FFDB7C7"
        );
        assert_eq!(
            person_identifier("IT", "IT", "recD@r2-rems-only-for-test.it"),
            "IT/IT/EC0F414791615A7B2D88DCE79C70628A37995A357E8CF52794781953A00075AF"
        );
    }

    #[test]
    fn domain_case_and_space_do_not_matter_countries_do() {
        let a = person_identifier("IT", "IT", "recC@r2-rems-only-for-test.it");
        assert_eq!(
            a,
            person_identifier("IT", "IT", " recC@R2-REMS-Only-For-Test.IT ")
        );
        assert_ne!(
            a,
            person_identifier("IT", "IT", "recc@r2-rems-only-for-test.it")
        );
        assert!(
            person_identifier("DE", "IT", "recC@r2-rems-only-for-test.it").starts_with("DE/IT/")
        );
        assert_eq!(a.len(), "IT/IT/".len() + 64);
    }
}
