//! Building and signing the ERDS evidence Ponte issues for a translated message, filled as
//! the AgID kit fills it (rem.md §3.3-§3.6) and with only the elements the per-event
//! cardinality of the REM baseline allows (EN 319 532-4 Table C.27, rem.md §3.5).
//!
//! [`build`] turns plain facts ([`EvidenceInput`]) into the [`Evidence`] model;
//! [`sign`] writes it, signs it XAdES-B-B and, given a time-stamp source, augments it to
//! B-T ([`sign_with_tsa`] does the same with a TSA reached over HTTP).

use time::{OffsetDateTime, UtcOffset};

use super::Error;
use super::identity::person_identifier;
use crate::rem::evidence::{
    AssuranceLevelsDetails, AttributeValue, ElementForm, EntityDetails, Event, EventReason,
    Evidence, Extension, GeneralEvidenceInfo, IdentityAttribute, MessageIdentifier, PartInfo,
    Reason, RelayEvidenceInfo, SamlAttribute, UserContentInfo, UserDetails,
};
use crate::tsp;
use crate::xades::{self, SignOptions, Signer};

/// `PartInfo/Identifier` of the original message (iso.org.dod.internet.mail).
pub const PART_IDENTIFIER: &str = "urn:oid:1.3.6.1.7";
/// `PartInfo/ContentType` of the original message.
pub const PART_CONTENT_TYPE: &str = "message/rfc822";
/// `ds:DigestMethod` of the original message's digest (SHA-256).
pub const DIGEST_METHOD: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// `saml:Attribute/@Name` of the eIDAS natural-person identifier.
pub const PERSON_IDENTIFIER_NAME: &str =
    "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier";
/// The minimum number of `EvidenceIssuerPolicyID/PolicyID` (REM baseline R01: the REM
/// baseline URI and the REMID policy URI).
pub const MIN_POLICIES: usize = 2;

/// The facts an evidence states, as plain values.
#[derive(Debug, Clone)]
pub struct EvidenceInput<'a> {
    /// The event (`ERDSEventId`).
    pub event: Event,
    /// The reasons, each with the issuer's text for the second `Details` (the short code is
    /// written first, as the REM baseline does). At least one (REM baseline G04).
    pub reasons: Vec<(Reason, Option<String>)>,
    /// `EvidenceIdentifier` (REM baseline: an RFC 5322 unique-id form, `x@host`).
    pub evidence_id: String,
    /// The issuer's legal name (`EvidenceIssuerDetails`, the TL name of the provider).
    pub issuer_name: &'a str,
    /// The issuer's country code (`IT`): the provider part of the `PersonIdentifier`s it
    /// writes, and the user part for its own users.
    pub issuer_country: &'a str,
    /// `EvidenceIssuerPolicyID/PolicyID`s, in order (at least [`MIN_POLICIES`]).
    pub policies: &'a [String],
    /// The sender's address (`SenderDetails/Identifier`, scheme `mailto`).
    pub sender_email: &'a str,
    /// The sender's `PersonIdentifier` (`SenderDetails/Identity`): `None` for a sender with
    /// none (a non-ERDS sender, F.3); for a user of the issuer,
    /// [`person_identifier`]`(cc, cc, email)`; else the value the S-REMS wrote.
    pub sender_person_id: Option<String>,
    /// `SenderDetails/AssuranceLevelsDetails` (REM baseline I10; absent means "basic"
    /// authentication), when the sender's authentication is known.
    pub sender_assurance: Option<AssuranceLevelsDetails>,
    /// The recipients' addresses, in the order of the message (position k = recipient k+1).
    pub recipients: &'a [String],
    /// The recipient this evidence is about, one of `recipients` (compared ignoring ASCII
    /// case): `EvidenceRefersToRecipient` for C, D and E events (mandatory there),
    /// `ext:RelayEvidenceRefersTo` for B.1-B.3, F.1 and F.2 (`None`: every recipient, each
    /// position written as the kit does); not allowed for A events and F.3.
    pub refers_to_recipient: Option<&'a str>,
    /// `UserContentInfo/AppLayerIdentifier`: the original Message-ID with its `<>`.
    pub ua_message_id: &'a str,
    /// `MessageIdentifier`: the S-REMS REM message Message-ID, without `<>`.
    pub rems_message_id: &'a str,
    /// The base64 SHA-256 of the prepared original (`PartInfo/ds:DigestValue`): 32 bytes.
    pub digest_b64: &'a str,
    /// `SubmissionTime` (T0); written for every event but F.3, which has no submission.
    pub submission_time: OffsetDateTime,
    /// `EventTime`.
    pub event_time: OffsetDateTime,
    /// The original subject (`ext:GeneralEvidenceInfo/ext:Subject`), if any.
    pub subject: Option<&'a str>,
    /// Recipients not reachable through a trusted path (`ext:UntrustedPathToRecipient`, by
    /// position): ordinary mailboxes (the kit lists the non-ERDS recipients of the Outflow
    /// messages so). Each must be one of `recipients`.
    pub untrusted_recipients: &'a [String],
    /// The counterpart provider's legal name (`ExternalERDSDetails`), mandatory for B events
    /// and not allowed elsewhere.
    pub external_erds_name: Option<&'a str>,
    /// `ForwardedToExternalSystem` (the `Received:` line for F.3, the MX host for F.1/F.2),
    /// mandatory for F events and not allowed elsewhere.
    pub external_system: Option<&'a str>,
}

/// Which side of the flow issues an event, by its clause letter of EN 319 522-1.
fn group(event: &Event) -> Result<char, Error> {
    event
        .clause()
        .and_then(|c| c.chars().next())
        .ok_or_else(|| Error::UnknownEvent(event.uri().to_owned()))
}

/// Whether the event is issued by the recipient's provider, which alone is authoritative for
/// the recipients' identities (rem.md §3.6): B.1 and B.2 (relay accepted or rejected by it),
/// C, D and E events, and F.3 (received from a non-ERDS for its user).
fn issued_by_recipient_side(event: &Event) -> bool {
    matches!(
        event,
        Event::RelayAcceptance | Event::RelayRejection | Event::ReceivedFromNonERDS
    ) || matches!(
        event.clause().and_then(|c| c.chars().next()),
        Some('C' | 'D' | 'E')
    )
}

/// The 1-based position of `address` among `recipients` (ASCII case ignored).
fn position(recipients: &[String], address: &str) -> Result<u64, Error> {
    let pos = recipients
        .iter()
        .position(|x| x.eq_ignore_ascii_case(address))
        .ok_or_else(|| Error::NotARecipient(address.to_owned()))?;
    // A recipient list never nears u64::MAX.
    Ok(u64::try_from(pos).map_or(u64::MAX, |p| p.saturating_add(1)))
}

fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

fn person(value: String) -> IdentityAttribute {
    IdentityAttribute::Saml(SamlAttribute {
        name: PERSON_IDENTIFIER_NAME.into(),
        friendly_name: Some("PersonIdentifier".into()),
        name_format: Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri".into()),
        values: vec![AttributeValue {
            xsi_type: Some("enp:PersonIdentifierType".into()),
            value,
        }],
    })
}

/// The evidence model for `input`, checked against the REM baseline cardinality of its event.
///
/// Times are written in UTC (`Z`). Recipients get a `PersonIdentifier` (country
/// `issuer_country` twice) only in events the recipient's provider issues (see
/// [`EvidenceInput::refers_to_recipient`] for where the recipient reference goes). The
/// evidence has no `@Id` (the signature covers the whole document, `URI=""`, as in the kit).
pub fn build(input: &EvidenceInput<'_>) -> Result<Evidence, Error> {
    let g = group(&input.event)?;
    let name = input.event.name().to_owned();
    if input.reasons.is_empty() {
        return Err(Error::NoReason(name));
    }
    // A known reason belongs to one event group (RA.. to A events ...): the same check the
    // mapping tables get. Unknown reasons are the caller's to vouch for.
    for (reason, _) in &input.reasons {
        if let Some(code) = reason.code()
            && code.chars().nth(1) != Some(g)
        {
            return Err(Error::ReasonOfOtherEvent {
                reason: code.to_owned(),
                event: name,
            });
        }
    }
    if input.policies.len() < MIN_POLICIES || input.policies.iter().any(|p| p.trim().is_empty()) {
        return Err(Error::TooFewPolicies {
            got: input
                .policies
                .iter()
                .filter(|p| !p.trim().is_empty())
                .count(),
        });
    }
    if input.recipients.is_empty() {
        return Err(Error::NoRecipient);
    }
    for (what, value) in [
        ("evidence identifier", input.evidence_id.as_str()),
        ("issuer name", input.issuer_name),
        ("sender address", input.sender_email),
        ("UA message identifier", input.ua_message_id),
        ("REM message identifier", input.rems_message_id),
        ("digest", input.digest_b64),
    ] {
        if value.trim().is_empty() {
            return Err(Error::Empty(what));
        }
    }
    {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(input.digest_b64.trim());
        if decoded.map_or(true, |d| d.len() != 32) {
            return Err(Error::BadDigest(input.digest_b64.to_owned()));
        }
    }
    let relay = matches!(g, 'B')
        || matches!(
            input.event,
            Event::RelayToNonERDS | Event::RelayToNonERDSFailure
        );
    let per_recipient = matches!(g, 'C' | 'D' | 'E');
    let refers_to = match input.refers_to_recipient {
        Some(r) => {
            if !per_recipient && !relay {
                return Err(Error::RefersToNotAllowed(name));
            }
            Some(position(input.recipients, r)?)
        }
        None if per_recipient => return Err(Error::RefersToMissing(name)),
        None => None,
    };
    match (g, input.external_erds_name) {
        ('B', None) => return Err(Error::ExternalErdsMissing(name)),
        ('B', Some(n)) if n.trim().is_empty() => return Err(Error::ExternalErdsMissing(name)),
        ('B', Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(Error::ExternalErdsNotAllowed(name)),
    }
    match (g, input.external_system) {
        ('F', None) => return Err(Error::ExternalSystemMissing(name)),
        ('F', Some(s)) if s.trim().is_empty() => return Err(Error::ExternalSystemMissing(name)),
        ('F', Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(Error::ExternalSystemNotAllowed(name)),
    }

    let sender = UserDetails {
        identity: input
            .sender_person_id
            .clone()
            .map(person)
            .into_iter()
            .collect(),
        identifier: UserDetails::mailto(input.sender_email).identifier,
        assurance: input.sender_assurance.clone(),
    };
    let with_ids = issued_by_recipient_side(&input.event);
    let recipients = input
        .recipients
        .iter()
        .map(|r| UserDetails {
            identity: if with_ids {
                vec![person(person_identifier(
                    input.issuer_country,
                    input.issuer_country,
                    r,
                ))]
            } else {
                Vec::new()
            },
            ..UserDetails::mailto(r.as_str())
        })
        .collect();

    let mut ev = Evidence::new(
        None,
        input.evidence_id.clone(),
        input.event.clone(),
        utc(input.event_time),
        EntityDetails::legal_name(input.issuer_name),
        sender,
        recipients,
    );
    ev.reasons = input
        .reasons
        .iter()
        .map(|(reason, text)| match text {
            Some(t) => EventReason::baseline(reason.clone(), t.clone()),
            None => EventReason {
                reason: reason.clone(),
                details: reason.code().map(str::to_owned).into_iter().collect(),
            },
        })
        .collect();
    ev.issuer_policy_ids = input.policies.to_vec();
    if !matches!(input.event, Event::ReceivedFromNonERDS) {
        ev.submission_time = Some(utc(input.submission_time));
    }
    if per_recipient {
        ev.refers_to_recipient = refers_to;
    }
    ev.message_identifier = Some(MessageIdentifier {
        value: input
            .rems_message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
        form: ElementForm::Qualified,
    });
    ev.user_content_info = Some(UserContentInfo {
        app_layer_identifier: Some(input.ua_message_id.to_owned()),
        composing_parts: Some(1),
        parts: vec![PartInfo {
            identifier: PART_IDENTIFIER.into(),
            content_type: PART_CONTENT_TYPE.into(),
            digest_method: Some(DIGEST_METHOD.into()),
            digest_value: Some(input.digest_b64.trim().to_owned()),
        }],
    });
    ev.forwarded_to_external_system = input.external_system.map(str::to_owned);
    ev.external_erds = input.external_erds_name.map(EntityDetails::legal_name);
    let untrusted = input
        .untrusted_recipients
        .iter()
        .map(|u| position(input.recipients, u))
        .collect::<Result<Vec<u64>, Error>>()?;
    if input.subject.is_some() || !untrusted.is_empty() {
        ev.extensions.push(Extension::General {
            is_critical: Some(false),
            info: GeneralEvidenceInfo {
                subject: input.subject.map(str::to_owned),
                untrusted_path_to_recipient: untrusted,
            },
        });
    }
    if relay {
        // Absent would mean "all" too; the kit writes every position, and so does Ponte.
        let all = 1..=u64::try_from(input.recipients.len()).unwrap_or(u64::MAX);
        ev.extensions.push(Extension::Relay {
            is_critical: Some(false),
            info: RelayEvidenceInfo {
                refers_to: refers_to.map_or_else(|| all.collect(), |r| vec![r]),
            },
        });
    }
    Ok(ev)
}

/// A source of RFC 3161 time-stamp tokens: given the octets to stamp (what
/// [`xades::timestamp_data`] returns), the DER token over their SHA-256. A closure over
/// [`tsp::issue::Tsu`] in tests, [`sign_with_tsa`] for an HTTP TSA.
pub type TimestampSource<'a> = &'a dyn Fn(&[u8]) -> Result<Vec<u8>, tsp::Error>;

/// Writes `model`, signs it XAdES-B-B with `signer` at `at` (`SigningTime`) and, when `tsa`
/// is given, augments it to B-T with a token over the signature value.
pub fn sign(
    model: &Evidence,
    signer: &Signer,
    tsa: Option<TimestampSource<'_>>,
    at: OffsetDateTime,
) -> Result<Vec<u8>, Error> {
    let signed = sign_b_b(model, signer, at)?;
    match tsa {
        None => Ok(signed),
        Some(stamp) => {
            let data = xades::timestamp_data(&signed)?;
            let token = stamp(&data)?;
            Ok(xades::augment_b_t(&signed, &token)?)
        }
    }
}

/// [`sign`] with a TSA reached over HTTP at `url` ([`tsp::timestamp`]: SHA-256 imprint,
/// nonce, the token's imprint and nonce checked). The result is always B-T.
pub async fn sign_with_tsa(
    model: &Evidence,
    signer: &Signer,
    url: &str,
    request: &tsp::RequestOptions,
    client: &tsp::ClientOptions,
    at: OffsetDateTime,
) -> Result<Vec<u8>, Error> {
    let signed = sign_b_b(model, signer, at)?;
    let data = xades::timestamp_data(&signed)?;
    let (token, _verdict) =
        tsp::timestamp(url, tsp::Imprint::sha256(&data), request, client).await?;
    Ok(xades::augment_b_t(&signed, &token)?)
}

/// The Ids of the signature are derived from the evidence identifier (128 bits of its SHA-256
/// in hex): unique as the identifier is, and reproducible, so that the same facts, identifiers
/// and instant give the same bytes (`tests/translate_pinned.rs`).
fn sign_b_b(model: &Evidence, signer: &Signer, at: OffsetDateTime) -> Result<Vec<u8>, Error> {
    let xml = model.unsigned().to_xml()?;
    let tag = crate::crypto::digest(
        crate::crypto::DigestAlgorithm::Sha256,
        model.evidence_identifier.as_bytes(),
    );
    let opts = SignOptions {
        signing_time: at,
        id: Some(tag.iter().take(16).map(|b| format!("{b:02x}")).collect()),
    };
    Ok(xades::sign_b_b(xml.as_bytes(), signer, &opts)?)
}
