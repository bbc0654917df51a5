//! The evidence document of EN 319 522-3 cl. 5 (`Evidence`, type `EvidenceType`) with the
//! REM baseline extensions of EN 319 532-4 Annex C, as plain values.
//!
//! Models are for reading; the bytes are for proving. Subtrees the model does not interpret
//! (certificate details, `Any`, transaction logs, unknown extensions, exotic assurance or
//! authentication forms, and the `ds:Signature`) are kept verbatim as [`RawXml`].

use time::OffsetDateTime;

use super::event::Event;
use super::reason::EventReason;

/// The `version` the REM baseline mandates (EN 319 532-4 C.3.4).
pub const EVIDENCE_VERSION: &str = "EN319522v1.1.1";

/// One namespace binding (`xmlns:prefix="uri"`; the empty prefix is the default namespace).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamespaceBinding {
    /// The prefix; empty for the default namespace.
    pub prefix: String,
    /// The namespace URI; empty un-declares the default namespace.
    pub uri: String,
}

/// One XML element kept exactly as received, with the namespace bindings it inherited.
///
/// `xml` is the element's bytes from `<` to the end of its end tag, byte for byte (entities
/// and whitespace untouched). `inherited` are the bindings in scope at its parent that its
/// start tag does not re-declare, sorted by prefix: what the fragment needs to mean the same
/// thing elsewhere. When written into a
/// document whose scope differs, the writer adds the missing declarations on the fragment's
/// start tag and leaves the rest of its bytes alone.
///
/// Two fragments are equal when their bytes are equal and no prefix is bound to different
/// namespaces in their inherited scopes (a binding present on one side only is not a
/// difference: a prefix the fragment uses is bound on both sides, or it could not have been
/// read).
#[derive(Debug, Clone)]
pub struct RawXml {
    /// The element's bytes, verbatim.
    pub xml: String,
    /// The bindings in scope at the parent and not re-declared by the element, by prefix.
    pub inherited: Vec<NamespaceBinding>,
}

impl PartialEq for RawXml {
    fn eq(&self, other: &RawXml) -> bool {
        self.xml == other.xml
            && self.inherited.iter().all(|a| {
                other
                    .inherited
                    .iter()
                    .all(|b| a.prefix != b.prefix || a.uri == b.uri)
            })
    }
}

impl Eq for RawXml {}

/// Which namespace form an element was read in, where the schema text and the producers
/// disagree (`MessageIdentifier`: unqualified in the EN 319 522-3 text, qualified in every
/// AgID kit evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ElementForm {
    /// In the `http://uri.etsi.org/19522/v1#` namespace (the kit's form; the default).
    #[default]
    Qualified,
    /// In no namespace (the form of the EN 319 522-3 schema text).
    Unqualified,
}

/// A `saml:AttributeValue` with simple content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    /// `xsi:type` as written (a QName such as `elp:LegalNameType`), if any.
    pub xsi_type: Option<String>,
    /// The text value.
    pub value: String,
}

/// A `saml:Attribute` of an identity (eIDAS SAML attribute profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    /// `Name` (e.g. `http://eidas.europa.eu/attributes/legalperson/LegalName`).
    pub name: String,
    /// `FriendlyName` (e.g. `LegalName`, `PersonIdentifier`).
    pub friendly_name: Option<String>,
    /// `NameFormat` (e.g. `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`).
    pub name_format: Option<String>,
    /// The values, in order.
    pub values: Vec<AttributeValue>,
}

/// One attribute of an `Identity`: modelled when it has the simple eIDAS shape, otherwise
/// kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityAttribute {
    /// A `saml:Attribute` with `Name`, `FriendlyName`, `NameFormat` and simple values.
    Saml(SamlAttribute),
    /// A `saml:Attribute` with anything more (other attributes, complex values), verbatim.
    Raw(RawXml),
}

impl IdentityAttribute {
    /// The first value of a modelled attribute with this `FriendlyName`.
    fn value_if_friendly(&self, friendly: &str) -> Option<&str> {
        match self {
            IdentityAttribute::Saml(a) if a.friendly_name.as_deref() == Some(friendly) => {
                a.values.first().map(|v| v.value.as_str())
            }
            _ => None,
        }
    }
}

/// `EntityDetailsType`: the issuer, or the counterpart ERDS (`ExternalERDSDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDetails {
    /// `Identity`: at least one attribute.
    pub identity: Vec<IdentityAttribute>,
    /// `CertificateDetails`, verbatim.
    pub certificate_details: Option<RawXml>,
    /// `Any`, verbatim.
    pub any: Option<RawXml>,
}

impl EntityDetails {
    /// An entity known by its legal name (the REM baseline issuer form, C.3.4).
    pub fn legal_name(name: impl Into<String>) -> EntityDetails {
        EntityDetails {
            identity: vec![IdentityAttribute::Saml(SamlAttribute {
                name: "http://eidas.europa.eu/attributes/legalperson/LegalName".into(),
                friendly_name: Some("LegalName".into()),
                name_format: Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri".into()),
                values: vec![AttributeValue {
                    xsi_type: Some("elp:LegalNameType".into()),
                    value: name.into(),
                }],
            })],
            certificate_details: None,
            any: None,
        }
    }

    /// The `LegalName` attribute's value, if present.
    pub fn legal_name_value(&self) -> Option<&str> {
        self.identity
            .iter()
            .find_map(|a| a.value_if_friendly("LegalName"))
    }
}

/// `EntityIdentifierType`: `<Identifier IdentifierSchemeName="mailto">user@domain</Identifier>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityIdentifier {
    /// `IdentifierSchemeName` (REM: `mailto`).
    pub scheme: String,
    /// The identifier.
    pub value: String,
}

impl EntityIdentifier {
    /// A REM user identifier: an e-mail address under the `mailto` scheme.
    pub fn mailto(address: impl Into<String>) -> EntityIdentifier {
        EntityIdentifier {
            scheme: "mailto".into(),
            value: address.into(),
        }
    }
}

/// `AssuranceLevelDetailsType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssuranceLevelDetails {
    /// `AssuranceLevel` (e.g. `http://eidas.europa.eu/LoA/substantial`).
    pub assurance_level: String,
    /// `PolicyID`.
    pub policy_id: Option<String>,
    /// `PolicyIDDetails`.
    pub policy_id_details: Option<String>,
    /// `PolicyIDDetailsResources`, verbatim.
    pub policy_id_details_resources: Option<RawXml>,
}

/// `AuthenticationDetailsType` (the qualified `AuthenticationDetails` element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticationDetails {
    /// `AuthenticationTime` and `AuthenticationMethod` (the REM baseline form).
    TimeAndMethod {
        /// When the user authenticated.
        time: OffsetDateTime,
        /// How (a URI).
        method: String,
    },
    /// The other choices (`saml:Assertion`, `OAuth2`, `other`): the one child, verbatim.
    Other(RawXml),
}

/// `AssuranceLevelsDetailsType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssuranceLevelsDetails {
    /// `GlobalAssuranceLevel` then `AuthenticationDetails` (the REM baseline form).
    Global {
        /// `GlobalAssuranceLevel`.
        level: AssuranceLevelDetails,
        /// `AuthenticationDetails`.
        authentication: AuthenticationDetails,
    },
    /// The second choice (`AuthenticationDetsAndAssuranceLevel`, `IdentityProofAssuranceLevel`,
    /// `FederationAssuranceLevel`): the children, verbatim.
    Other(Vec<RawXml>),
}

/// `UserDetailsType`: a sender, recipient or delegate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserDetails {
    /// `Identity` attributes; empty when the element is absent.
    pub identity: Vec<IdentityAttribute>,
    /// `Identifier`.
    pub identifier: Option<EntityIdentifier>,
    /// `AssuranceLevelsDetails`.
    pub assurance: Option<AssuranceLevelsDetails>,
}

impl UserDetails {
    /// A user known by e-mail address only.
    pub fn mailto(address: impl Into<String>) -> UserDetails {
        UserDetails {
            identifier: Some(EntityIdentifier::mailto(address)),
            ..UserDetails::default()
        }
    }

    /// The `mailto` identifier's address, if any.
    pub fn mailto_address(&self) -> Option<&str> {
        self.identifier
            .as_ref()
            .filter(|i| i.scheme == "mailto")
            .map(|i| i.value.as_str())
    }

    /// The eIDAS `PersonIdentifier` value (`IT/IT/<hex>` in Policy-IT), if present.
    pub fn person_identifier(&self) -> Option<&str> {
        self.identity
            .iter()
            .find_map(|a| a.value_if_friendly("PersonIdentifier"))
    }
}

/// `RecipientsDelegateDetailsType`: a delegate and the recipients (1-based) it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientsDelegateDetails {
    /// The delegate.
    pub delegate: UserDetails,
    /// `DelegatingRecipients` (a list of integers).
    pub delegating_recipients: Vec<u64>,
}

/// `MessageIdentifier` with the form it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdentifier {
    /// The identifier (REM: the S-REMS Message-ID without `<>`).
    pub value: String,
    /// Qualified (kit) or unqualified (schema text).
    pub form: ElementForm,
}

/// `PartInfoType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// `Identifier` (REM: `urn:oid:1.3.6.1.7`).
    pub identifier: String,
    /// `ContentType` (REM: `message/rfc822`).
    pub content_type: String,
    /// `ds:DigestMethod/@Algorithm`.
    pub digest_method: Option<String>,
    /// `ds:DigestValue`, the base64 text as written.
    pub digest_value: Option<String>,
}

/// `UserContentInfoType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserContentInfo {
    /// `AppLayerIdentifier` (REM: the original Message-ID with `<>`).
    pub app_layer_identifier: Option<String>,
    /// `ComposingParts`.
    pub composing_parts: Option<i32>,
    /// `PartsInfo/PartInfo`: at least one.
    pub parts: Vec<PartInfo>,
}

/// REM baseline `ext:GeneralEvidenceInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeneralEvidenceInfo {
    /// `ext:Subject`: the original message's subject.
    pub subject: Option<String>,
    /// `ext:UntrustedPathToRecipient`: 1-based recipients not reachable through trusted CSI.
    pub untrusted_path_to_recipient: Vec<u64>,
}

/// REM baseline `ext:RelayEvidenceInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayEvidenceInfo {
    /// `ext:RelayEvidenceRefersTo`: 1-based recipients this relay evidence is about (empty =
    /// all).
    pub refers_to: Vec<u64>,
}

/// One `Extension`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// An extension holding exactly one `ext:GeneralEvidenceInfo`.
    General {
        /// `isCritical` as written (absent means false).
        is_critical: Option<bool>,
        /// The content.
        info: GeneralEvidenceInfo,
    },
    /// An extension holding exactly one `ext:RelayEvidenceInfo`.
    Relay {
        /// `isCritical` as written (absent means false).
        is_critical: Option<bool>,
        /// The content.
        info: RelayEvidenceInfo,
    },
    /// Any other extension: the whole `Extension` element, verbatim (it is what is written
    /// back); `is_critical` is what its attribute said, for the caller's convenience (a
    /// relying party must refuse an evidence with a critical extension it does not know).
    Unknown {
        /// `isCritical` as read.
        is_critical: Option<bool>,
        /// The `Extension` element, verbatim.
        element: RawXml,
    },
}

impl Extension {
    /// Whether the extension is marked critical (absent = false).
    pub fn is_critical(&self) -> bool {
        match self {
            Extension::General { is_critical, .. }
            | Extension::Relay { is_critical, .. }
            | Extension::Unknown { is_critical, .. } => is_critical.unwrap_or(false),
        }
    }
}

/// An ERDS evidence (EN 319 522-3 cl. 5.2), in schema order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// `@version` (REM baseline: [`EVIDENCE_VERSION`]).
    pub version: String,
    /// `@Id` (xs:ID), if any.
    pub id: Option<String>,
    /// `EvidenceIdentifier`.
    pub evidence_identifier: String,
    /// `ERDSEventId`.
    pub event: Event,
    /// `EventReasons/EventReason`; empty when the element is absent.
    pub reasons: Vec<EventReason>,
    /// `EventTime`.
    pub event_time: OffsetDateTime,
    /// `EvidenceIssuerPolicyID/PolicyID`; empty when the element is absent.
    pub issuer_policy_ids: Vec<String>,
    /// `EvidenceIssuerDetails`.
    pub issuer: EntityDetails,
    /// `SenderDetails`.
    pub sender: UserDetails,
    /// `SenderDelegateDetails`.
    pub sender_delegate: Option<UserDetails>,
    /// `RecipientDetails`: at least one; position k is recipient number k + 1.
    pub recipients: Vec<UserDetails>,
    /// `RecipientsDelegateDetails`.
    pub recipients_delegates: Vec<RecipientsDelegateDetails>,
    /// `SubmissionTime`.
    pub submission_time: Option<OffsetDateTime>,
    /// `EvidenceRefersToRecipient` (1-based).
    pub refers_to_recipient: Option<u64>,
    /// `MessageIdentifier`.
    pub message_identifier: Option<MessageIdentifier>,
    /// `UserContentInfo`.
    pub user_content_info: Option<UserContentInfo>,
    /// `ForwardedToExternalSystem` (called `ExternalSystem` in the EN text; both are read).
    pub forwarded_to_external_system: Option<String>,
    /// `ExternalERDSDetails`.
    pub external_erds: Option<EntityDetails>,
    /// `TransactionLogInformation/TransactionLog` elements, verbatim; empty when absent.
    pub transaction_logs: Vec<RawXml>,
    /// `Extensions/Extension`; empty when absent.
    pub extensions: Vec<Extension>,
    /// `ds:Signature`, verbatim; always written last.
    pub signature: Option<RawXml>,
    /// Namespace declarations of the root other than the ones the writer always declares
    /// (`tns`, `ext`, `ds`, `saml`, `elp`, `enp`), re-declared on write so QName values
    /// (`xsi:type`) and verbatim subtrees keep their meaning.
    pub extra_namespaces: Vec<NamespaceBinding>,
}

impl Evidence {
    /// A new, unsigned evidence with the mandatory parts; everything optional is empty.
    ///
    /// `id` becomes `@Id` (give a fresh xs:ID such as `ev-<uuid>` so a signature can point at
    /// it), `evidence_identifier` the `EvidenceIdentifier` (REM baseline: a unique
    /// RFC 5322-style identifier); both are the caller's to make unique.
    pub fn new(
        id: Option<String>,
        evidence_identifier: impl Into<String>,
        event: Event,
        event_time: OffsetDateTime,
        issuer: EntityDetails,
        sender: UserDetails,
        recipients: Vec<UserDetails>,
    ) -> Evidence {
        Evidence {
            version: EVIDENCE_VERSION.into(),
            id,
            evidence_identifier: evidence_identifier.into(),
            event,
            reasons: Vec::new(),
            event_time,
            issuer_policy_ids: Vec::new(),
            issuer,
            sender,
            sender_delegate: None,
            recipients,
            recipients_delegates: Vec::new(),
            submission_time: None,
            refers_to_recipient: None,
            message_identifier: None,
            user_content_info: None,
            forwarded_to_external_system: None,
            external_erds: None,
            transaction_logs: Vec::new(),
            extensions: Vec::new(),
            signature: None,
            extra_namespaces: Vec::new(),
        }
    }

    /// The REM baseline `ext:Subject`, if any extension carries one.
    pub fn subject(&self) -> Option<&str> {
        self.extensions.iter().find_map(|e| match e {
            Extension::General { info, .. } => info.subject.as_deref(),
            _ => None,
        })
    }

    /// Whether the evidence carries a critical extension this model does not understand.
    pub fn has_unknown_critical_extension(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| matches!(e, Extension::Unknown { .. }) && e.is_critical())
    }

    /// The same evidence without its signature.
    pub fn unsigned(&self) -> Evidence {
        Evidence {
            signature: None,
            ..self.clone()
        }
    }
}
