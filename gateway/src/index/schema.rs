//! The IGPEC schema (RFC 6109 §3; OIDs of the `pec.md` reference §3.1) in the two forms
//! OpenLDAP loads: `slapd.conf` `include` form and cn=config LDIF.
//!
//! Syntaxes and matching rules are not published by AgID; these are chosen so that a real
//! OpenLDAP (2.5) accepts them and lookups behave as PEC needs:
//! - `providerCertificate`: Certificate syntax (1.3.6.1.4.1.1466.115.121.1.8), transferred as
//!   `providerCertificate;binary`, `certificateExactMatch` like `userCertificate`;
//! - `managedDomains`, `mailReceipt`, `providerCertificateHash`: IA5 String
//!   (1.3.6.1.4.1.1466.115.121.1.26) with `caseIgnoreIA5Match`, so domain look-ups are
//!   case-insensitive in the server too (index `managedDomains eq`);
//! - `providerName`, `providerUnit`: Directory String with `caseIgnoreMatch`;
//! - `LDIFLocationURL`: IA5 String with `caseExactIA5Match`.

/// OID arc of the IGPEC attribute types.
pub const ATTRIBUTE_ARC: &str = "1.3.6.1.4.1.16572.2.2";
/// OID arc of the IGPEC object classes.
pub const OBJECT_CLASS_ARC: &str = "1.3.6.1.4.1.16572.2.1";

/// The attribute types, as RFC 4512 descriptions (without the `attributetype` keyword).
pub const ATTRIBUTE_TYPES: [&str; 7] = [
    "( 1.3.6.1.4.1.16572.2.2.1 NAME 'providerCertificateHash' \
     DESC 'fingerprint of a provider signing certificate (hex)' \
     EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.4.1.16572.2.2.2 NAME 'providerCertificate' \
     DESC 'provider signing certificate, use ;binary' \
     EQUALITY certificateExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 )",
    "( 1.3.6.1.4.1.16572.2.2.3 NAME 'providerName' \
     DESC 'name of the PEC provider' \
     EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch \
     SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
    "( 1.3.6.1.4.1.16572.2.2.4 NAME 'mailReceipt' \
     DESC 'address of the provider for inter-provider receipts' \
     EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch \
     SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.4.1.16572.2.2.5 NAME 'managedDomains' \
     DESC 'PEC mail domains managed by the provider' \
     EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch \
     SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.4.1.16572.2.2.6 NAME 'LDIFLocationURL' \
     DESC 'URL where the provider publishes its LDIF' \
     EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )",
    "( 1.3.6.1.4.1.16572.2.2.7 NAME 'providerUnit' \
     DESC 'organisational unit of the provider' \
     EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch \
     SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
];

/// The object classes, as RFC 4512 descriptions (without the `objectclass` keyword).
pub const OBJECT_CLASSES: [&str; 2] = [
    "( 1.3.6.1.4.1.16572.2.1.1 NAME 'LDIFLocationURLObject' \
     DESC 'carries the URL of a provider LDIF' SUP top AUXILIARY \
     MAY ( LDIFLocationURL ) )",
    "( 1.3.6.1.4.1.16572.2.1.2 NAME 'provider' DESC 'a PEC provider' SUP top STRUCTURAL \
     MUST ( providerCertificateHash $ providerCertificate $ providerName $ mailReceipt $ \
     managedDomains ) MAY ( description $ LDIFLocationURL $ providerUnit ) )",
];

/// The output form of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    /// `slapd.conf` form: `attributetype` / `objectclass` lines, for `include`.
    SlapdConf,
    /// cn=config LDIF: one `cn=ponte-igpec,cn=schema,cn=config` entry, for `slapadd -n0`
    /// or `ldapadd` into a running cn=config.
    Ldif,
}

/// Renders the schema in the requested form. Depends on OpenLDAP's `core` schema
/// (for `description` and the matching rules).
pub fn render(format: SchemaFormat) -> String {
    let mut out = String::new();
    match format {
        SchemaFormat::SlapdConf => {
            out.push_str(
                "# IGPEC schema (AgID PEC providers' index, RFC 6109) written by Ponte.\n",
            );
            out.push_str("# Requires core.schema. Load with: include <this file>\n");
            for at in ATTRIBUTE_TYPES {
                out.push_str("attributetype ");
                out.push_str(at);
                out.push('\n');
            }
            for oc in OBJECT_CLASSES {
                out.push_str("objectclass ");
                out.push_str(oc);
                out.push('\n');
            }
        }
        SchemaFormat::Ldif => {
            out.push_str(
                "# IGPEC schema (AgID PEC providers' index, RFC 6109) written by Ponte.\n",
            );
            out.push_str("# Requires the core schema. Load with: slapadd -n0 -l <this file>\n");
            out.push_str("dn: cn=ponte-igpec,cn=schema,cn=config\n");
            out.push_str("objectClass: olcSchemaConfig\n");
            out.push_str("cn: ponte-igpec\n");
            for at in ATTRIBUTE_TYPES {
                out.push_str("olcAttributeTypes: ");
                out.push_str(at);
                out.push('\n');
            }
            for oc in OBJECT_CLASSES {
                out.push_str("olcObjectClasses: ");
                out.push_str(oc);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_oid_of_the_reference_is_present_once() {
        let conf = render(SchemaFormat::SlapdConf);
        for n in 1..=7 {
            let oid = format!("( {ATTRIBUTE_ARC}.{n} ");
            assert_eq!(conf.matches(&oid).count(), 1, "{oid}");
        }
        for n in 1..=2 {
            let oid = format!("( {OBJECT_CLASS_ARC}.{n} ");
            assert_eq!(conf.matches(&oid).count(), 1, "{oid}");
        }
        assert!(conf.contains("SYNTAX 1.3.6.1.4.1.1466.115.121.1.8 "));
    }

    #[test]
    fn ldif_form_is_one_entry_with_no_continuation_problems() {
        let ldif = render(SchemaFormat::Ldif);
        assert_eq!(ldif.matches("\ndn: ").count(), 1);
        assert_eq!(ldif.matches("olcAttributeTypes: ").count(), 7);
        assert_eq!(ldif.matches("olcObjectClasses: ").count(), 2);
        // No line may start with a space (that would fold it into the previous one).
        assert!(ldif.lines().all(|l| !l.starts_with(' ')));
    }
}
