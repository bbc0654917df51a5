//! Writing an evidence: [`Evidence`] to bytes.
//!
//! Qualification follows the schema: `Evidence` and the globally declared elements in
//! `http://uri.etsi.org/19522/v1#` (prefix `tns`), the locally declared ones (`EventTime`,
//! `Code`, `Details`, `PolicyID`, `Identifier`, `AssuranceLevelsDetails`, ...) in no namespace,
//! the REM baseline extensions in `http://uri.etsi.org/19532/v1#` (prefix `ext`), and
//! `ds:Signature` last, verbatim. The output is compact (no indentation) and declares its
//! namespaces on the root as the AgID kit does.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::NS_XSI;
use super::model::*;
use super::parse::STANDARD_NAMESPACES;
use super::tree::is_xml_space;
use crate::rem::Error;

impl Evidence {
    /// The evidence as XML, including its verbatim `ds:Signature` when it has one.
    pub fn to_xml(&self) -> Result<String, Error> {
        write(self, true)
    }

    /// The evidence as XML without any signature: the input of a signer.
    pub fn to_unsigned_xml(&self) -> Result<String, Error> {
        write(self, false)
    }
}

struct Writer {
    out: String,
    /// The bindings declared on the root (what every verbatim fragment sees).
    scope: Vec<NamespaceBinding>,
}

fn unwritable(what: impl Into<String>) -> Error {
    Error::Unwritable { what: what.into() }
}

fn write(ev: &Evidence, with_signature: bool) -> Result<String, Error> {
    if ev.recipients.is_empty() {
        return Err(unwritable(
            "RecipientDetails: at least one recipient is required",
        ));
    }
    if ev.issuer.identity.is_empty() {
        return Err(unwritable(
            "EvidenceIssuerDetails/Identity: at least one attribute is required",
        ));
    }
    if let Some(id) = &ev.id
        && !is_ncname(id)
    {
        return Err(unwritable(format!("Id {id:?} is not an xs:ID (NCName)")));
    }
    if ev.version.is_empty() {
        return Err(unwritable("version is empty"));
    }
    let mut scope: Vec<NamespaceBinding> = STANDARD_NAMESPACES
        .iter()
        .map(|(p, u)| NamespaceBinding {
            prefix: (*p).to_owned(),
            uri: (*u).to_owned(),
        })
        .collect();
    for extra in &ev.extra_namespaces {
        let usable = !extra.prefix.is_empty()
            && extra.prefix != "xml"
            && !extra.prefix.starts_with("xmlns")
            && is_ncname(&extra.prefix)
            && !extra.uri.is_empty()
            && !scope.iter().any(|b| b.prefix == extra.prefix);
        if usable {
            scope.push(extra.clone());
        }
    }
    let mut w = Writer {
        out: String::with_capacity(8 * 1024),
        scope,
    };
    w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    w.out.push_str("<tns:Evidence");
    let decls: Vec<(String, String)> = w
        .scope
        .iter()
        .map(|b| (format!("xmlns:{}", b.prefix), b.uri.clone()))
        .collect();
    for (k, v) in &decls {
        w.attr(k, v)?;
    }
    w.attr("version", &ev.version)?;
    if let Some(id) = &ev.id {
        w.attr("Id", id)?;
    }
    w.out.push('>');

    w.simple("tns:EvidenceIdentifier", &ev.evidence_identifier)?;
    w.simple("tns:ERDSEventId", ev.event.uri())?;
    if !ev.reasons.is_empty() {
        w.open("tns:EventReasons");
        for r in &ev.reasons {
            w.open("tns:EventReason");
            w.simple("Code", r.uri())?;
            for d in &r.details {
                w.simple("Details", d)?;
            }
            w.close("tns:EventReason");
        }
        w.close("tns:EventReasons");
    }
    w.time("EventTime", &ev.event_time)?;
    if !ev.issuer_policy_ids.is_empty() {
        w.open("tns:EvidenceIssuerPolicyID");
        for p in &ev.issuer_policy_ids {
            w.simple("PolicyID", p)?;
        }
        w.close("tns:EvidenceIssuerPolicyID");
    }
    w.entity("tns:EvidenceIssuerDetails", &ev.issuer)?;
    w.user("tns:SenderDetails", &ev.sender)?;
    if let Some(d) = &ev.sender_delegate {
        w.user("tns:SenderDelegateDetails", d)?;
    }
    for r in &ev.recipients {
        w.user("tns:RecipientDetails", r)?;
    }
    for d in &ev.recipients_delegates {
        w.open("tns:RecipientsDelegateDetails");
        w.user_content_of(&d.delegate)?;
        let list: Vec<String> = d.delegating_recipients.iter().map(u64::to_string).collect();
        w.simple("DelegatingRecipients", &list.join(" "))?;
        w.close("tns:RecipientsDelegateDetails");
    }
    if let Some(t) = &ev.submission_time {
        w.time("tns:SubmissionTime", t)?;
    }
    if let Some(n) = ev.refers_to_recipient {
        w.simple("EvidenceRefersToRecipient", &n.to_string())?;
    }
    if let Some(m) = &ev.message_identifier {
        let name = match m.form {
            ElementForm::Qualified => "tns:MessageIdentifier",
            ElementForm::Unqualified => "MessageIdentifier",
        };
        w.simple(name, &m.value)?;
    }
    if let Some(u) = &ev.user_content_info {
        w.user_content_info(u)?;
    }
    if let Some(f) = &ev.forwarded_to_external_system {
        w.simple("ForwardedToExternalSystem", f)?;
    }
    if let Some(x) = &ev.external_erds {
        w.entity("tns:ExternalERDSDetails", x)?;
    }
    if !ev.transaction_logs.is_empty() {
        w.open("tns:TransactionLogInformation");
        for l in &ev.transaction_logs {
            w.raw(l)?;
        }
        w.close("tns:TransactionLogInformation");
    }
    if !ev.extensions.is_empty() {
        w.open("tns:Extensions");
        for x in &ev.extensions {
            w.extension(x)?;
        }
        w.close("tns:Extensions");
    }
    if with_signature && let Some(sig) = &ev.signature {
        w.raw(sig)?;
    }
    w.close("tns:Evidence");
    Ok(w.out)
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn attr(&mut self, name: &str, value: &str) -> Result<(), Error> {
        check_chars(name, value)?;
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        for c in value.chars() {
            match c {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                '"' => self.out.push_str("&quot;"),
                '\t' => self.out.push_str("&#x9;"),
                '\n' => self.out.push_str("&#xA;"),
                '\r' => self.out.push_str("&#xD;"),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
        Ok(())
    }

    fn text(&mut self, element: &str, value: &str) -> Result<(), Error> {
        check_chars(element, value)?;
        for c in value.chars() {
            match c {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                '\r' => self.out.push_str("&#xD;"),
                c => self.out.push(c),
            }
        }
        Ok(())
    }

    fn simple(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.open(name);
        self.text(name, value)?;
        self.close(name);
        Ok(())
    }

    fn time(&mut self, name: &str, t: &OffsetDateTime) -> Result<(), Error> {
        let s = t
            .format(&Rfc3339)
            .map_err(|e| unwritable(format!("{name}: {e}")))?;
        self.simple(name, &s)
    }

    /// A verbatim element, with the declarations it inherited and the root does not give it
    /// added to its start tag.
    fn raw(&mut self, raw: &RawXml) -> Result<(), Error> {
        let name_end = raw
            .xml
            .char_indices()
            .skip(1)
            .find(|(_, c)| is_xml_space(*c) || *c == '/' || *c == '>')
            .map(|(i, _)| i);
        let (Some(name_end), true) = (name_end, raw.xml.starts_with('<')) else {
            return Err(unwritable(
                "verbatim XML fragment does not start with an element",
            ));
        };
        let mut missing = String::new();
        for b in &raw.inherited {
            let covered = if b.prefix.is_empty() {
                // The writer never declares a default namespace.
                b.uri.is_empty()
            } else {
                self.scope.iter().any(|s| s == b)
            };
            if !covered {
                let name = if b.prefix.is_empty() {
                    "xmlns".to_owned()
                } else {
                    format!("xmlns:{}", b.prefix)
                };
                let mut tmp = Writer {
                    out: String::new(),
                    scope: Vec::new(),
                };
                tmp.attr(&name, &b.uri)?;
                missing.push_str(&tmp.out);
            }
        }
        let (head, tail) = raw.xml.split_at(name_end);
        self.out.push_str(head);
        self.out.push_str(&missing);
        self.out.push_str(tail);
        Ok(())
    }

    fn identity(&mut self, attrs: &[IdentityAttribute]) -> Result<(), Error> {
        self.open("tns:Identity");
        for a in attrs {
            match a {
                IdentityAttribute::Raw(r) => self.raw(r)?,
                IdentityAttribute::Saml(s) => {
                    self.out.push_str("<saml:Attribute");
                    if let Some(f) = &s.friendly_name {
                        self.attr("FriendlyName", f)?;
                    }
                    self.attr("Name", &s.name)?;
                    if let Some(f) = &s.name_format {
                        self.attr("NameFormat", f)?;
                    }
                    self.out.push('>');
                    for v in &s.values {
                        self.out.push_str("<saml:AttributeValue");
                        if let Some(t) = &v.xsi_type {
                            self.attr("xmlns:xsi", NS_XSI)?;
                            self.attr("xsi:type", t)?;
                        }
                        self.out.push('>');
                        self.text("saml:AttributeValue", &v.value)?;
                        self.close("saml:AttributeValue");
                    }
                    self.close("saml:Attribute");
                }
            }
        }
        self.close("tns:Identity");
        Ok(())
    }

    fn entity(&mut self, name: &str, e: &EntityDetails) -> Result<(), Error> {
        if e.identity.is_empty() {
            return Err(unwritable(format!(
                "{name}/Identity: at least one attribute is required"
            )));
        }
        self.open(name);
        self.identity(&e.identity)?;
        if let Some(c) = &e.certificate_details {
            self.raw(c)?;
        }
        if let Some(a) = &e.any {
            self.raw(a)?;
        }
        self.close(name);
        Ok(())
    }

    fn user(&mut self, name: &str, u: &UserDetails) -> Result<(), Error> {
        self.open(name);
        self.user_content_of(u)?;
        self.close(name);
        Ok(())
    }

    fn user_content_of(&mut self, u: &UserDetails) -> Result<(), Error> {
        if !u.identity.is_empty() {
            self.identity(&u.identity)?;
        }
        if let Some(i) = &u.identifier {
            self.out.push_str("<Identifier");
            self.attr("IdentifierSchemeName", &i.scheme)?;
            self.out.push('>');
            self.text("Identifier", &i.value)?;
            self.close("Identifier");
        }
        match &u.assurance {
            None => {}
            Some(AssuranceLevelsDetails::Global {
                level,
                authentication,
            }) => {
                self.open("AssuranceLevelsDetails");
                self.open("GlobalAssuranceLevel");
                self.simple("AssuranceLevel", &level.assurance_level)?;
                if let Some(p) = &level.policy_id {
                    self.simple("PolicyID", p)?;
                }
                if let Some(p) = &level.policy_id_details {
                    self.simple("PolicyIDDetails", p)?;
                }
                if let Some(r) = &level.policy_id_details_resources {
                    self.raw(r)?;
                }
                self.close("GlobalAssuranceLevel");
                self.open("tns:AuthenticationDetails");
                match authentication {
                    AuthenticationDetails::TimeAndMethod { time, method } => {
                        self.time("AuthenticationTime", time)?;
                        self.simple("AuthenticationMethod", method)?;
                    }
                    AuthenticationDetails::Other(r) => self.raw(r)?,
                }
                self.close("tns:AuthenticationDetails");
                self.close("AssuranceLevelsDetails");
            }
            Some(AssuranceLevelsDetails::Other(children)) => {
                if children.is_empty() {
                    return Err(unwritable("AssuranceLevelsDetails: no content"));
                }
                self.open("AssuranceLevelsDetails");
                for c in children {
                    self.raw(c)?;
                }
                self.close("AssuranceLevelsDetails");
            }
        }
        Ok(())
    }

    fn user_content_info(&mut self, u: &UserContentInfo) -> Result<(), Error> {
        if u.parts.is_empty() {
            return Err(unwritable(
                "UserContentInfo/PartsInfo: at least one PartInfo is required",
            ));
        }
        self.open("tns:UserContentInfo");
        if let Some(a) = &u.app_layer_identifier {
            self.simple("AppLayerIdentifier", a)?;
        }
        if let Some(n) = u.composing_parts {
            self.simple("ComposingParts", &n.to_string())?;
        }
        self.open("tns:PartsInfo");
        for p in &u.parts {
            self.open("tns:PartInfo");
            self.simple("Identifier", &p.identifier)?;
            self.simple("ContentType", &p.content_type)?;
            if let Some(m) = &p.digest_method {
                self.out.push_str("<ds:DigestMethod");
                self.attr("Algorithm", m)?;
                self.out.push_str("/>");
            }
            if let Some(v) = &p.digest_value {
                self.simple("ds:DigestValue", v)?;
            }
            self.close("tns:PartInfo");
        }
        self.close("tns:PartsInfo");
        self.close("tns:UserContentInfo");
        Ok(())
    }

    fn extension(&mut self, x: &Extension) -> Result<(), Error> {
        let critical = |w: &mut Writer, c: &Option<bool>| -> Result<(), Error> {
            w.out.push_str("<tns:Extension");
            if let Some(c) = c {
                w.attr("isCritical", if *c { "true" } else { "false" })?;
            }
            w.out.push('>');
            Ok(())
        };
        match x {
            Extension::General { is_critical, info } => {
                critical(self, is_critical)?;
                self.open("ext:GeneralEvidenceInfo");
                if let Some(s) = &info.subject {
                    self.simple("ext:Subject", s)?;
                }
                for n in &info.untrusted_path_to_recipient {
                    self.simple("ext:UntrustedPathToRecipient", &n.to_string())?;
                }
                self.close("ext:GeneralEvidenceInfo");
                self.close("tns:Extension");
            }
            Extension::Relay { is_critical, info } => {
                critical(self, is_critical)?;
                self.open("ext:RelayEvidenceInfo");
                for n in &info.refers_to {
                    self.simple("ext:RelayEvidenceRefersTo", &n.to_string())?;
                }
                self.close("ext:RelayEvidenceInfo");
                self.close("tns:Extension");
            }
            Extension::Unknown { element, .. } => self.raw(element)?,
        }
        Ok(())
    }
}

/// Characters XML 1.0 cannot carry, even escaped.
fn check_chars(element: &str, value: &str) -> Result<(), Error> {
    let bad = value.chars().find(|&c| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    });
    match bad {
        Some(c) => Err(unwritable(format!(
            "{element}: character U+{:04X} cannot be written in XML 1.0",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Whether `s` is an NCName (close enough: letters, digits, `_`, `-`, `.`, non-ASCII; no
/// colon; not starting with a digit, `-` or `.`).
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{B7}'))
}
