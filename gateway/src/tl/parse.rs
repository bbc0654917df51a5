//! Reading a `TrustServiceStatusList` (TS 119 612 v2) into the [model](super::model).
//!
//! Required elements that Ponte uses are required here (a list without `ListIssueDateTime`
//! or a service without `ServiceStatus` is refused, naming the element and where it is);
//! what Ponte does not use is not read. A `X509Certificate` that does not read as a
//! certificate is kept as unreadable (the ETSI example lists carry placeholders), not an
//! error.

use base64::Engine;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::model::{
    DigitalIdentity, Pointer, Provider, Service, ServiceStatus, ServiceType, StatusPeriod,
    TrustedList, TslType,
};
use super::{Error, NS, NS_ADDITIONAL};
use crate::x509::Certificate;
use crate::xml::{Document, NodeId};

fn missing(element: &'static str, within: impl Into<String>) -> Error {
    Error::Missing {
        element,
        within: within.into(),
    }
}

fn child(doc: &Document, id: NodeId, local: &'static str, within: &str) -> Result<NodeId, Error> {
    doc.first_child_named(id, Some(NS), local)
        .ok_or_else(|| missing(local, within))
}

fn opt_child(doc: &Document, id: NodeId, local: &str) -> Option<NodeId> {
    doc.first_child_named(id, Some(NS), local)
}

fn text(doc: &Document, id: NodeId) -> String {
    doc.text_content(id).trim().to_owned()
}

/// An `xs:dateTime` (a missing zone is read as UTC).
pub(crate) fn date_time(value: &str, element: &'static str) -> Result<OffsetDateTime, Error> {
    let v = value.trim();
    OffsetDateTime::parse(v, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{v}Z"), &Rfc3339))
        .map_err(|_| Error::Value {
            element,
            value: v.to_owned(),
            expected: "an xs:dateTime",
        })
}

/// The English `Name` of an `InternationalNamesType`, else the first; empty when none.
pub(crate) fn names(doc: &Document, id: NodeId, ns: &str) -> (String, Vec<String>) {
    let all: Vec<(Option<String>, String)> = doc
        .children_named(id, Some(ns), "Name")
        .map(|n| {
            (
                doc.attribute(n, Some(crate::xml::XML_NAMESPACE), "lang")
                    .map(str::to_ascii_lowercase),
                text(doc, n),
            )
        })
        .collect();
    let en = all
        .iter()
        .find(|(l, _)| l.as_deref() == Some("en"))
        .or_else(|| all.first())
        .map(|(_, n)| n.clone())
        .unwrap_or_default();
    (en, all.into_iter().map(|(_, n)| n).collect())
}

fn b64(value: &str) -> Option<Vec<u8>> {
    let cleaned: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .ok()
}

/// The `DigitalId` children of `id` (a `ServiceDigitalIdentity`).
pub(crate) fn digital_identity(doc: &Document, id: NodeId) -> DigitalIdentity {
    let mut out = DigitalIdentity::default();
    for d in doc.children_named(id, Some(NS), "DigitalId") {
        for c in doc.child_elements(d) {
            let Some(el) = doc.element(c) else { continue };
            if el.namespace.as_deref() != Some(NS) {
                continue;
            }
            let value = text(doc, c);
            match el.local {
                "X509Certificate" => match b64(&value) {
                    Some(der) => match Certificate::from_der(&der) {
                        Ok(cert) => out.certificates.push(cert),
                        Err(e) => out.unreadable.push(e.to_string()),
                    },
                    None => out.unreadable.push("not base64".to_owned()),
                },
                "X509SubjectName" => out.subject_names.push(value),
                "X509SKI" => {
                    if let Some(ski) = b64(&value) {
                        out.skis.push(ski);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn period(doc: &Document, id: NodeId, within: &str) -> Result<StatusPeriod, Error> {
    let service_type =
        ServiceType::from_uri(&text(doc, child(doc, id, "ServiceTypeIdentifier", within)?));
    let (name, _) = names(doc, child(doc, id, "ServiceName", within)?, NS);
    let within = format!("{within} \"{name}\"");
    let status = ServiceStatus::from_uri(&text(doc, child(doc, id, "ServiceStatus", &within)?));
    let from = date_time(
        &text(doc, child(doc, id, "StatusStartingTime", &within)?),
        "StatusStartingTime",
    )?;
    let identity = match opt_child(doc, id, "ServiceDigitalIdentity") {
        Some(sdi) => digital_identity(doc, sdi),
        None => DigitalIdentity::default(),
    };
    Ok(StatusPeriod {
        service_type,
        name,
        status,
        from,
        identity,
    })
}

fn service(doc: &Document, id: NodeId, tsp: &str) -> Result<Service, Error> {
    let within = format!("TSPService of \"{tsp}\"");
    let info = child(doc, id, "ServiceInformation", &within)?;
    let current = period(doc, info, &within)?;
    let supply_points = opt_child(doc, info, "ServiceSupplyPoints")
        .map(|s| {
            doc.children_named(s, Some(NS), "ServiceSupplyPoint")
                .map(|p| text(doc, p))
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut history = Vec::new();
    if let Some(h) = opt_child(doc, id, "ServiceHistory") {
        for inst in doc.children_named(h, Some(NS), "ServiceHistoryInstance") {
            history.push(period(
                doc,
                inst,
                &format!("ServiceHistoryInstance of \"{}\"", current.name),
            )?);
        }
    }
    Ok(Service {
        current,
        supply_points,
        history,
    })
}

fn provider(doc: &Document, id: NodeId) -> Result<Provider, Error> {
    let info = child(doc, id, "TSPInformation", "TrustServiceProvider")?;
    let (name, _) = names(doc, child(doc, info, "TSPName", "TSPInformation")?, NS);
    let trade_names = opt_child(doc, info, "TSPTradeName")
        .map(|t| names(doc, t, NS).1)
        .unwrap_or_default();
    let mut services = Vec::new();
    if let Some(list) = opt_child(doc, id, "TSPServices") {
        for s in doc.children_named(list, Some(NS), "TSPService") {
            services.push(service(doc, s, &name)?);
        }
    }
    Ok(Provider {
        name,
        trade_names,
        services,
    })
}

fn pointer(doc: &Document, id: NodeId) -> Result<Pointer, Error> {
    let location = text(doc, child(doc, id, "TSLLocation", "OtherTSLPointer")?);
    let mut signers = DigitalIdentity::default();
    if let Some(ids) = opt_child(doc, id, "ServiceDigitalIdentities") {
        for sdi in doc.children_named(ids, Some(NS), "ServiceDigitalIdentity") {
            let one = digital_identity(doc, sdi);
            signers.certificates.extend(one.certificates);
            signers.unreadable.extend(one.unreadable);
            signers.subject_names.extend(one.subject_names);
            signers.skis.extend(one.skis);
        }
    }
    let (mut tsl_type, mut territory, mut mime_type) = (None, None, None);
    if let Some(add) = opt_child(doc, id, "AdditionalInformation") {
        for oi in doc.children_named(add, Some(NS), "OtherInformation") {
            for c in doc.child_elements(oi) {
                let Some(el) = doc.element(c) else { continue };
                match (el.namespace.as_deref(), el.local) {
                    (Some(NS), "TSLType") => tsl_type = Some(TslType::from_uri(&text(doc, c))),
                    (Some(NS), "SchemeTerritory") => territory = Some(text(doc, c)),
                    (Some(NS_ADDITIONAL), "MimeType") => mime_type = Some(text(doc, c)),
                    _ => {}
                }
            }
        }
    }
    Ok(Pointer {
        location,
        tsl_type,
        territory,
        mime_type,
        signers,
    })
}

/// Reads the list in `doc`.
pub fn list(doc: &Document) -> Result<TrustedList, Error> {
    let root = doc.root();
    let is_tsl = doc
        .element(root)
        .is_some_and(|e| e.is(Some(NS), "TrustServiceStatusList"));
    if !is_tsl {
        let found = doc.element(root).map(|e| e.qname()).unwrap_or_default();
        return Err(Error::NotATrustedList(found));
    }
    let si = child(doc, root, "SchemeInformation", "TrustServiceStatusList")?;
    let within = "SchemeInformation";
    let seq_text = text(doc, child(doc, si, "TSLSequenceNumber", within)?);
    let sequence = seq_text.parse().map_err(|_| Error::Value {
        element: "TSLSequenceNumber",
        value: seq_text.clone(),
        expected: "a positive integer",
    })?;
    let tsl_type = TslType::from_uri(&text(doc, child(doc, si, "TSLType", within)?));
    let operator = names(doc, child(doc, si, "SchemeOperatorName", within)?, NS).0;
    let territory = opt_child(doc, si, "SchemeTerritory")
        .map(|t| text(doc, t))
        .unwrap_or_default();
    let issued = date_time(
        &text(doc, child(doc, si, "ListIssueDateTime", within)?),
        "ListIssueDateTime",
    )?;
    let next_update = match opt_child(doc, si, "NextUpdate")
        .and_then(|n| opt_child(doc, n, "dateTime"))
        .map(|d| text(doc, d))
    {
        Some(v) if !v.is_empty() => Some(date_time(&v, "NextUpdate")?),
        _ => None,
    };
    let mut pointers = Vec::new();
    if let Some(p) = opt_child(doc, si, "PointersToOtherTSL") {
        for o in doc.children_named(p, Some(NS), "OtherTSLPointer") {
            pointers.push(pointer(doc, o)?);
        }
    }
    let distribution_points = opt_child(doc, si, "DistributionPoints")
        .map(|d| {
            doc.children_named(d, Some(NS), "URI")
                .map(|u| text(doc, u))
                .collect()
        })
        .unwrap_or_default();
    let mut providers = Vec::new();
    if let Some(list) = opt_child(doc, root, "TrustServiceProviderList") {
        for p in doc.children_named(list, Some(NS), "TrustServiceProvider") {
            providers.push(provider(doc, p)?);
        }
    }
    Ok(TrustedList {
        sequence,
        tsl_type,
        operator,
        territory,
        issued,
        next_update,
        pointers,
        distribution_points,
        providers,
    })
}
