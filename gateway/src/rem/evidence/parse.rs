//! Reading an evidence: bytes to [`Evidence`].
//!
//! The reader follows the schema sequence of EN 319 522-3 strictly: elements must come in
//! order, globally declared ones in `http://uri.etsi.org/19522/v1#`, locally declared ones in
//! no namespace. Two documented tolerances: `MessageIdentifier` is read in either form (the
//! EN text declares it locally, the AgID kit qualifies it) and the form is remembered;
//! `ExternalSystem` (EN text) is read as `ForwardedToExternalSystem` (the XSD name).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::event::Event;
use super::model::*;
use super::reason::{EventReason, Reason};
use super::tree::{self, Element, Limits, Node, is_xml_space};
use super::{NS_DS, NS_ERDS, NS_REM, NS_SAML, NS_XSI};
use crate::rem::Error;

/// The namespaces the writer always declares on the root, with its prefixes.
pub(super) const STANDARD_NAMESPACES: &[(&str, &str)] = &[
    ("ds", NS_DS),
    ("elp", super::NS_ELP),
    ("enp", super::NS_ENP),
    ("ext", NS_REM),
    ("saml", NS_SAML),
    ("tns", NS_ERDS),
];

/// Parses an evidence with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Evidence, Error> {
    parse_with_limits(bytes, &Limits::default())
}

/// Parses an evidence within `limits`.
pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Evidence, Error> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let input = std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let root = tree::read(input, limits)?;
    evidence(&root, input)
}

const ERDS: Option<&str> = Some(NS_ERDS);

/// The element children of an element, consumed in schema order.
struct Seq<'e> {
    /// The parent (its name is only written out in errors).
    parent: &'e Element<'e>,
    items: Vec<&'e Element<'e>>,
    pos: usize,
}

impl<'e> Seq<'e> {
    fn of(el: &'e Element<'e>) -> Result<Seq<'e>, Error> {
        let mut items = Vec::new();
        for child in &el.children {
            match child {
                Node::Element(e) => items.push(e),
                Node::Text(t) if t.chars().all(is_xml_space) => {}
                Node::Text(t) => {
                    return Err(Error::UnexpectedText {
                        element: el.clark(),
                        text: t.chars().take(40).collect(),
                    });
                }
            }
        }
        Ok(Seq {
            parent: el,
            items,
            pos: 0,
        })
    }

    fn peek(&self) -> Option<&'e Element<'e>> {
        self.items.get(self.pos).copied()
    }

    fn next_is(&self, ns: Option<&str>, local: &str) -> bool {
        self.peek().is_some_and(|e| e.is(ns, local))
    }

    /// The next element if it is `ns:local`.
    fn opt(&mut self, ns: Option<&str>, local: &str) -> Option<&'e Element<'e>> {
        if self.next_is(ns, local) {
            self.pos += 1;
            self.items.get(self.pos - 1).copied()
        } else {
            None
        }
    }

    /// The next element, which must be `ns:local`.
    fn req(
        &mut self,
        ns: Option<&str>,
        local: &str,
        what: &'static str,
    ) -> Result<&'e Element<'e>, Error> {
        match self.opt(ns, local) {
            Some(e) => Ok(e),
            None => Err(self.wrong(what)),
        }
    }

    /// Every following element named `ns:local`.
    fn many(&mut self, ns: Option<&str>, local: &str) -> Vec<&'e Element<'e>> {
        let mut out = Vec::new();
        while let Some(e) = self.opt(ns, local) {
            out.push(e);
        }
        out
    }

    /// Every remaining element.
    fn rest(&mut self) -> Vec<&'e Element<'e>> {
        let out = self.items.get(self.pos..).unwrap_or_default().to_vec();
        self.pos = self.items.len();
        out
    }

    fn wrong(&self, expected: &'static str) -> Error {
        match self.peek() {
            Some(e) => Error::UnexpectedElement {
                parent: self.parent.clark(),
                found: e.clark(),
                expected,
            },
            None => Error::MissingElement {
                parent: self.parent.clark(),
                expected,
            },
        }
    }

    /// Nothing may follow.
    fn end(&self, expected: &'static str) -> Result<(), Error> {
        match self.peek() {
            Some(e) => Err(Error::UnexpectedElement {
                parent: self.parent.clark(),
                found: e.clark(),
                expected,
            }),
            None => Ok(()),
        }
    }
}

/// Simple content: text only, as read (entities resolved).
fn text(el: &Element) -> Result<String, Error> {
    let mut out = String::new();
    for child in &el.children {
        match child {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                return Err(Error::UnexpectedElement {
                    parent: el.clark(),
                    found: e.clark(),
                    expected: "text only",
                });
            }
        }
    }
    Ok(out)
}

/// Simple content of a type whose white space collapses (anyURI, dateTime, integer...).
fn token(el: &Element) -> Result<String, Error> {
    Ok(text(el)?.trim_matches(is_xml_space).to_owned())
}

fn date_time(el: &Element) -> Result<OffsetDateTime, Error> {
    let value = token(el)?;
    OffsetDateTime::parse(&value, &Rfc3339).map_err(|_| Error::InvalidValue {
        element: el.clark(),
        value,
        expected: "an xs:dateTime with a time zone (RFC 3339)",
    })
}

fn integer(el: &Element) -> Result<u64, Error> {
    let value = token(el)?;
    value.parse::<u64>().map_err(|_| Error::InvalidValue {
        element: el.clark(),
        value,
        expected: "a non-negative integer",
    })
}

fn boolean(el: &Element, value: &str) -> Result<bool, Error> {
    match value.trim_matches(is_xml_space) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidValue {
            element: format!("{}/@isCritical", el.clark()),
            value: value.to_owned(),
            expected: "an xs:boolean",
        }),
    }
}

fn evidence(root: &Element, input: &str) -> Result<Evidence, Error> {
    if !root.is(ERDS, "Evidence") {
        return Err(Error::NotEvidence {
            found: root.clark(),
        });
    }
    let version = root
        .attr("version")
        .ok_or_else(|| Error::MissingAttribute {
            element: root.clark(),
            attribute: "version",
        })?
        .to_owned();
    let id = root.attr("Id").map(str::to_owned);
    let extra_namespaces = root
        .decls
        .iter()
        .filter(|d| {
            !STANDARD_NAMESPACES
                .iter()
                .any(|(p, u)| d.prefix == *p && d.uri == *u)
        })
        .cloned()
        .collect();

    let mut seq = Seq::of(root)?;
    let evidence_identifier =
        text(seq.req(ERDS, "EvidenceIdentifier", "tns:EvidenceIdentifier")?)?;
    let event = Event::from_uri(&token(seq.req(ERDS, "ERDSEventId", "tns:ERDSEventId")?)?);
    let reasons = match seq.opt(ERDS, "EventReasons") {
        Some(e) => event_reasons(e)?,
        None => Vec::new(),
    };
    let event_time = date_time(seq.req(None, "EventTime", "EventTime (unqualified)")?)?;
    let issuer_policy_ids = match seq.opt(ERDS, "EvidenceIssuerPolicyID") {
        Some(e) => policy_ids(e)?,
        None => Vec::new(),
    };
    let issuer = entity(
        seq.req(ERDS, "EvidenceIssuerDetails", "tns:EvidenceIssuerDetails")?,
        input,
    )?;
    let sender = user(seq.req(ERDS, "SenderDetails", "tns:SenderDetails")?, input)?.0;
    let sender_delegate = match seq.opt(ERDS, "SenderDelegateDetails") {
        Some(e) => Some(user(e, input)?.0),
        None => None,
    };
    let recipient_elements = seq.many(ERDS, "RecipientDetails");
    if recipient_elements.is_empty() {
        return Err(seq.wrong("tns:RecipientDetails"));
    }
    let recipients = recipient_elements
        .into_iter()
        .map(|e| user(e, input).map(|(u, _)| u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut recipients_delegates = Vec::new();
    for e in seq.many(ERDS, "RecipientsDelegateDetails") {
        let (delegate, mut rest) = user(e, input)?;
        let list = rest.req(
            None,
            "DelegatingRecipients",
            "DelegatingRecipients (unqualified)",
        )?;
        rest.end("nothing after DelegatingRecipients")?;
        let value = token(list)?;
        let delegating_recipients = value
            .split(is_xml_space)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>().map_err(|_| Error::InvalidValue {
                    element: list.clark(),
                    value: value.clone(),
                    expected: "a list of non-negative integers",
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        recipients_delegates.push(RecipientsDelegateDetails {
            delegate,
            delegating_recipients,
        });
    }
    let submission_time = match seq.opt(ERDS, "SubmissionTime") {
        Some(e) => Some(date_time(e)?),
        None => None,
    };
    let refers_to_recipient = match seq.opt(None, "EvidenceRefersToRecipient") {
        Some(e) => Some(integer(e)?),
        None => None,
    };
    let message_identifier = if let Some(e) = seq.opt(ERDS, "MessageIdentifier") {
        Some(MessageIdentifier {
            value: text(e)?,
            form: ElementForm::Qualified,
        })
    } else if let Some(e) = seq.opt(None, "MessageIdentifier") {
        Some(MessageIdentifier {
            value: text(e)?,
            form: ElementForm::Unqualified,
        })
    } else {
        None
    };
    let user_content_info = match seq.opt(ERDS, "UserContentInfo") {
        Some(e) => Some(user_content(e)?),
        None => None,
    };
    let forwarded_to_external_system = match seq
        .opt(None, "ForwardedToExternalSystem")
        .or_else(|| seq.opt(None, "ExternalSystem"))
    {
        Some(e) => Some(text(e)?),
        None => None,
    };
    let external_erds = match seq.opt(ERDS, "ExternalERDSDetails") {
        Some(e) => Some(entity(e, input)?),
        None => None,
    };
    let transaction_logs = match seq.opt(ERDS, "TransactionLogInformation") {
        Some(e) => {
            let mut inner = Seq::of(e)?;
            let logs: Vec<_> = inner
                .many(ERDS, "TransactionLog")
                .into_iter()
                .map(|l| l.raw(input))
                .collect();
            if logs.is_empty() {
                return Err(inner.wrong("tns:TransactionLog"));
            }
            inner.end("tns:TransactionLog")?;
            logs
        }
        None => Vec::new(),
    };
    let extensions = match seq.opt(ERDS, "Extensions") {
        Some(e) => extensions(e, input)?,
        None => Vec::new(),
    };
    let signature = seq.opt(Some(NS_DS), "Signature").map(|e| e.raw(input));
    seq.end("nothing after ds:Signature, which must be last")?;

    Ok(Evidence {
        version,
        id,
        evidence_identifier,
        event,
        reasons,
        event_time,
        issuer_policy_ids,
        issuer,
        sender,
        sender_delegate,
        recipients,
        recipients_delegates,
        submission_time,
        refers_to_recipient,
        message_identifier,
        user_content_info,
        forwarded_to_external_system,
        external_erds,
        transaction_logs,
        extensions,
        signature,
        extra_namespaces,
    })
}

fn event_reasons(el: &Element) -> Result<Vec<EventReason>, Error> {
    let mut seq = Seq::of(el)?;
    let items = seq.many(ERDS, "EventReason");
    if items.is_empty() {
        return Err(seq.wrong("tns:EventReason"));
    }
    seq.end("tns:EventReason")?;
    items
        .into_iter()
        .map(|r| {
            let mut inner = Seq::of(r)?;
            let code = token(inner.req(None, "Code", "Code (unqualified)")?)?;
            let details = inner
                .many(None, "Details")
                .into_iter()
                .map(text)
                .collect::<Result<Vec<_>, _>>()?;
            inner.end("Details (unqualified)")?;
            Ok(EventReason {
                reason: Reason::from_uri(&code),
                details,
            })
        })
        .collect()
}

fn policy_ids(el: &Element) -> Result<Vec<String>, Error> {
    let mut seq = Seq::of(el)?;
    let ids = seq
        .many(None, "PolicyID")
        .into_iter()
        .map(token)
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(seq.wrong("PolicyID (unqualified)"));
    }
    seq.end("PolicyID (unqualified)")?;
    Ok(ids)
}

fn identity(el: &Element, input: &str) -> Result<Vec<IdentityAttribute>, Error> {
    let mut seq = Seq::of(el)?;
    let attrs = seq.many(Some(NS_SAML), "Attribute");
    if attrs.is_empty() {
        return Err(seq.wrong("saml:Attribute"));
    }
    seq.end("saml:Attribute")?;
    Ok(attrs
        .into_iter()
        .map(|a| match saml_attribute(a) {
            Some(s) => IdentityAttribute::Saml(s),
            None => IdentityAttribute::Raw(a.raw(input)),
        })
        .collect())
}

/// The simple eIDAS shape, or `None` when anything else is there (kept verbatim then).
fn saml_attribute(el: &Element) -> Option<SamlAttribute> {
    let simple_attrs = el
        .attrs
        .iter()
        .all(|a| a.ns.is_none() && matches!(a.local, "Name" | "FriendlyName" | "NameFormat"));
    // A declaration that binds a standard prefix to its standard namespace changes nothing
    // (the writer declares them all on the root): Exclusive C14N puts `xmlns:saml` on the
    // first element that uses it, so the signed octets of every evidence carry one here.
    let standard_decls = el.decls.iter().all(|d| {
        STANDARD_NAMESPACES
            .iter()
            .chain(&[("xsi", NS_XSI)])
            .any(|(p, u)| d.prefix == *p && d.uri == *u)
    });
    if !simple_attrs || !standard_decls {
        return None;
    }
    let seq = Seq::of(el).ok()?;
    let mut values = Vec::new();
    for v in &seq.items {
        if !v.is(Some(NS_SAML), "AttributeValue") {
            return None;
        }
        let only_xsi_decl = v.decls.iter().all(|d| d.prefix == "xsi" && d.uri == NS_XSI);
        let only_type = v
            .attrs
            .iter()
            .all(|a| a.ns.as_deref() == Some(NS_XSI) && a.local == "type");
        if !only_xsi_decl || !only_type {
            return None;
        }
        values.push(AttributeValue {
            xsi_type: v.attr_ns(NS_XSI, "type").map(str::to_owned),
            value: text(v).ok()?,
        });
    }
    Some(SamlAttribute {
        name: el.attr("Name")?.to_owned(),
        friendly_name: el.attr("FriendlyName").map(str::to_owned),
        name_format: el.attr("NameFormat").map(str::to_owned),
        values,
    })
}

fn entity(el: &Element, input: &str) -> Result<EntityDetails, Error> {
    let mut seq = Seq::of(el)?;
    let identity = identity(seq.req(ERDS, "Identity", "tns:Identity")?, input)?;
    let certificate_details = seq.opt(ERDS, "CertificateDetails").map(|e| e.raw(input));
    let any = seq.opt(ERDS, "Any").map(|e| e.raw(input));
    seq.end("tns:CertificateDetails or tns:Any")?;
    Ok(EntityDetails {
        identity,
        certificate_details,
        any,
    })
}

/// A `UserDetailsType`; the remaining children are returned for extensions of the type.
fn user<'e>(el: &'e Element<'e>, input: &str) -> Result<(UserDetails, Seq<'e>), Error> {
    let mut seq = Seq::of(el)?;
    let identity = match seq.opt(ERDS, "Identity") {
        Some(e) => identity(e, input)?,
        None => Vec::new(),
    };
    let identifier = match seq.opt(None, "Identifier") {
        Some(e) => Some(EntityIdentifier {
            scheme: e
                .attr("IdentifierSchemeName")
                .ok_or_else(|| Error::MissingAttribute {
                    element: e.clark(),
                    attribute: "IdentifierSchemeName",
                })?
                .to_owned(),
            value: text(e)?,
        }),
        None => None,
    };
    let assurance = match seq.opt(None, "AssuranceLevelsDetails") {
        Some(e) => Some(assurance(e, input)?),
        None => None,
    };
    if !el.is(ERDS, "RecipientsDelegateDetails") {
        seq.end("Identity, Identifier or AssuranceLevelsDetails, in that order")?;
    }
    Ok((
        UserDetails {
            identity,
            identifier,
            assurance,
        },
        seq,
    ))
}

fn assurance(el: &Element, input: &str) -> Result<AssuranceLevelsDetails, Error> {
    let mut seq = Seq::of(el)?;
    if let Some(global) = seq.opt(None, "GlobalAssuranceLevel") {
        let level = assurance_level(global, input)?;
        let auth = seq.req(ERDS, "AuthenticationDetails", "tns:AuthenticationDetails")?;
        seq.end("nothing after tns:AuthenticationDetails")?;
        let mut inner = Seq::of(auth)?;
        let authentication = if let Some(t) = inner.opt(None, "AuthenticationTime") {
            let time = date_time(t)?;
            let method = token(inner.req(
                None,
                "AuthenticationMethod",
                "AuthenticationMethod (unqualified)",
            )?)?;
            inner.end("nothing after AuthenticationMethod")?;
            AuthenticationDetails::TimeAndMethod { time, method }
        } else {
            let all = inner.rest();
            match all.as_slice() {
                [one] => AuthenticationDetails::Other(one.raw(input)),
                _ => {
                    return Err(Error::UnexpectedElement {
                        parent: auth.clark(),
                        found: format!("{} elements", all.len()),
                        expected: "one of saml:Assertion, OAuth2, other, or AuthenticationTime",
                    });
                }
            }
        };
        Ok(AssuranceLevelsDetails::Global {
            level,
            authentication,
        })
    } else {
        let all = seq.rest();
        if all.is_empty() {
            return Err(Error::MissingElement {
                parent: el.clark(),
                expected: "GlobalAssuranceLevel or tns:AuthenticationDetsAndAssuranceLevel",
            });
        }
        Ok(AssuranceLevelsDetails::Other(
            all.into_iter().map(|e| e.raw(input)).collect(),
        ))
    }
}

fn assurance_level(el: &Element, input: &str) -> Result<AssuranceLevelDetails, Error> {
    let mut seq = Seq::of(el)?;
    let assurance_level =
        token(seq.req(None, "AssuranceLevel", "AssuranceLevel (unqualified)")?)?;
    let policy_id = seq.opt(None, "PolicyID").map(token).transpose()?;
    let policy_id_details = seq.opt(None, "PolicyIDDetails").map(text).transpose()?;
    let policy_id_details_resources = seq
        .opt(None, "PolicyIDDetailsResources")
        .map(|e| e.raw(input));
    seq.end("PolicyID, PolicyIDDetails or PolicyIDDetailsResources, in that order")?;
    Ok(AssuranceLevelDetails {
        assurance_level,
        policy_id,
        policy_id_details,
        policy_id_details_resources,
    })
}

fn user_content(el: &Element) -> Result<UserContentInfo, Error> {
    let mut seq = Seq::of(el)?;
    let app_layer_identifier = seq.opt(None, "AppLayerIdentifier").map(text).transpose()?;
    let composing_parts = match seq.opt(None, "ComposingParts") {
        Some(e) => {
            let value = token(e)?;
            Some(value.parse::<i32>().map_err(|_| Error::InvalidValue {
                element: e.clark(),
                value,
                expected: "an xs:int",
            })?)
        }
        None => None,
    };
    let parts_el = seq.req(ERDS, "PartsInfo", "tns:PartsInfo")?;
    seq.end("nothing after tns:PartsInfo")?;
    let mut parts_seq = Seq::of(parts_el)?;
    let mut parts = Vec::new();
    for p in parts_seq.many(ERDS, "PartInfo") {
        let mut inner = Seq::of(p)?;
        let identifier = text(inner.req(None, "Identifier", "Identifier (unqualified)")?)?;
        let content_type = text(inner.req(None, "ContentType", "ContentType (unqualified)")?)?;
        let digest_method = match inner.opt(Some(NS_DS), "DigestMethod") {
            Some(d) => Some(
                d.attr("Algorithm")
                    .ok_or_else(|| Error::MissingAttribute {
                        element: d.clark(),
                        attribute: "Algorithm",
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        let digest_value = inner
            .opt(Some(NS_DS), "DigestValue")
            .map(token)
            .transpose()?;
        inner.end("ds:DigestMethod then ds:DigestValue")?;
        parts.push(PartInfo {
            identifier,
            content_type,
            digest_method,
            digest_value,
        });
    }
    if parts.is_empty() {
        return Err(parts_seq.wrong("tns:PartInfo"));
    }
    parts_seq.end("tns:PartInfo")?;
    Ok(UserContentInfo {
        app_layer_identifier,
        composing_parts,
        parts,
    })
}

fn extensions(el: &Element, input: &str) -> Result<Vec<Extension>, Error> {
    let mut seq = Seq::of(el)?;
    let items = seq.many(ERDS, "Extension");
    if items.is_empty() {
        return Err(seq.wrong("tns:Extension"));
    }
    seq.end("tns:Extension")?;
    items.into_iter().map(|e| extension(e, input)).collect()
}

fn extension(el: &Element, input: &str) -> Result<Extension, Error> {
    let is_critical = el.attr("isCritical").map(|v| boolean(el, v)).transpose()?;
    let only_known_attrs = el
        .attrs
        .iter()
        .all(|a| a.ns.is_none() && a.local == "isCritical");
    let unknown = || Extension::Unknown {
        is_critical,
        element: el.raw(input),
    };
    // AnyType is mixed: anything but one known child (and white space) stays verbatim.
    let Ok(seq) = Seq::of(el) else {
        return Ok(unknown());
    };
    let [child] = seq.items.as_slice() else {
        return Ok(unknown());
    };
    if !only_known_attrs || !el.decls.is_empty() {
        return Ok(unknown());
    }
    if child.is(Some(NS_REM), "GeneralEvidenceInfo") {
        let mut inner = Seq::of(child)?;
        let subject = inner.opt(Some(NS_REM), "Subject").map(text).transpose()?;
        let untrusted_path_to_recipient = inner
            .many(Some(NS_REM), "UntrustedPathToRecipient")
            .into_iter()
            .map(integer)
            .collect::<Result<Vec<_>, _>>()?;
        inner.end("ext:Subject then ext:UntrustedPathToRecipient")?;
        Ok(Extension::General {
            is_critical,
            info: GeneralEvidenceInfo {
                subject,
                untrusted_path_to_recipient,
            },
        })
    } else if child.is(Some(NS_REM), "RelayEvidenceInfo") {
        let mut inner = Seq::of(child)?;
        let refers_to = inner
            .many(Some(NS_REM), "RelayEvidenceRefersTo")
            .into_iter()
            .map(integer)
            .collect::<Result<Vec<_>, _>>()?;
        inner.end("ext:RelayEvidenceRefersTo")?;
        Ok(Extension::Relay {
            is_critical,
            info: RelayEvidenceInfo { refers_to },
        })
    } else {
        Ok(unknown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest schema-valid evidence, in the default-namespace style: unqualified
    /// elements must then un-declare it (`xmlns=""`).
    const DEFAULT_NS: &str = r#"<Evidence xmlns="http://uri.etsi.org/19522/v1#" version="v">
<EvidenceIdentifier>id-1</EvidenceIdentifier>
<ERDSEventId>http://uri.etsi.org/19522/Event/RelayAcceptance</ERDSEventId>
<EventReasons><EventReason><Code xmlns="">http://uri.etsi.org/19522/EventReason/S_ERDS_MessageSuccessfullyRelayed</Code><Details xmlns=""><![CDATA[a<b]]>&#x41;&lt;</Details></EventReason></EventReasons>
<EventTime xmlns="">2026-11-24T12:00:00.5Z</EventTime>
<EvidenceIssuerDetails><Identity><s:Attribute xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion" Name="n" Extra="1"><s:AttributeValue>v</s:AttributeValue></s:Attribute></Identity></EvidenceIssuerDetails>
<SenderDetails/>
<RecipientDetails/>
</Evidence>"#;

    #[test]
    fn characters_outside_xml_are_refused() {
        // Found by fuzz/fuzz_targets/rem_receipt.rs: a sender address holding U+001F and NULs
        // was read, and went on into the To of a PEC receipt.
        assert!(parse(DEFAULT_NS.as_bytes()).is_ok());
        let with = |sender: &str| parse(DEFAULT_NS.replace("<SenderDetails/>", sender).as_bytes());
        for (bad, want) in [
            ("<SenderDetails>\u{1f}\0</SenderDetails>", 0x1f),
            ("<SenderDetails>&#x1F;</SenderDetails>", 0x1f),
            ("<SenderDetails a=\"&#x1;\"/>", 0x1),
            ("<SenderDetails>\u{fffe}</SenderDetails>", 0xfffe),
        ] {
            let r = with(bad);
            assert!(
                matches!(r, Err(Error::InvalidChar { code, .. }) if code == want),
                "{bad:?}: {r:?}"
            );
        }
        // NUL by reference: refused (by the reader itself or by the check).
        assert!(with("<SenderDetails>&#0;</SenderDetails>").is_err());
    }

    #[test]
    fn default_namespace_style_cdata_and_references() {
        let ev = parse(DEFAULT_NS.as_bytes()).expect("parse");
        assert_eq!(ev.event, Event::RelayAcceptance);
        assert_eq!(ev.reasons[0].details, ["a<bA<"]);
        assert_eq!(ev.reasons[0].code(), Some("RB01"));
        assert_eq!(ev.recipients, [UserDetails::default()]);
        // An attribute with an extra XML attribute is kept verbatim, prefix and all.
        let IdentityAttribute::Raw(raw) = &ev.issuer.identity[0] else {
            panic!("expected a verbatim attribute: {:?}", ev.issuer.identity);
        };
        assert!(raw.xml.starts_with("<s:Attribute xmlns:s="));
        let xml = ev.to_xml().expect("write");
        assert!(xml.contains("<Details>a&lt;bA&lt;</Details>"), "{xml}");
        // The verbatim fragment inherited the default namespace: it is re-declared for it.
        assert!(
            xml.contains(r#"<s:Attribute xmlns="http://uri.etsi.org/19522/v1#" xmlns:s="#),
            "{xml}"
        );
        assert_eq!(parse(xml.as_bytes()).expect("reparse").reasons, ev.reasons);
    }

    #[test]
    fn unqualified_local_in_default_namespace_is_refused() {
        let bad = DEFAULT_NS.replace("<EventTime xmlns=\"\">", "<EventTime>");
        let err = parse(bad.as_bytes()).expect_err("EventTime in the tns namespace");
        assert!(
            matches!(&err, Error::UnexpectedElement { found, expected, .. }
                if found == "{http://uri.etsi.org/19522/v1#}EventTime"
                && *expected == "EventTime (unqualified)"),
            "{err}"
        );
    }

    #[test]
    fn text_needing_escapes_round_trips() {
        let mut ev = parse(DEFAULT_NS.as_bytes()).expect("parse");
        ev.reasons[0].details = vec!["<&>\"'\r\n\t ]]>".into()];
        ev.evidence_identifier = " spaced \r id ".into();
        let xml = ev.to_xml().expect("write");
        let again = parse(xml.as_bytes()).expect("reparse");
        assert_eq!(again.reasons, ev.reasons);
        assert_eq!(again.evidence_identifier, ev.evidence_identifier);
        ev.reasons[0].details = vec!["nul \u{0}".into()];
        assert!(matches!(ev.to_xml(), Err(Error::Unwritable { .. })));
    }
}
