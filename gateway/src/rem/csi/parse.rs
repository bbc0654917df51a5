//! Reading a `CapabilityAndSecurityInformation` document.

use base64::Engine;

use super::{Csi, ErdsMetadata, Error, NS, NS_ERDS, SchemeData, Security};
use crate::tl::parse::{date_time, names};
use crate::xml::{self, Document, NodeId};

fn text(doc: &Document, id: NodeId) -> String {
    doc.text_content(id).trim().to_owned()
}

fn req(
    doc: &Document,
    id: NodeId,
    ns: Option<&str>,
    local: &'static str,
    within: &'static str,
) -> Result<NodeId, Error> {
    doc.first_child_named(id, ns, local).ok_or(Error::Missing {
        element: local,
        within,
    })
}

fn uris(doc: &Document, id: Option<NodeId>) -> Vec<String> {
    id.map(|i| {
        doc.child_elements(i)
            .filter(|&c| doc.element(c).is_some_and(|e| e.local == "URI"))
            .map(|c| text(doc, c))
            .collect()
    })
    .unwrap_or_default()
}

fn boolean(doc: &Document, id: NodeId, local: &'static str) -> Result<Option<bool>, Error> {
    match doc.first_child_named(id, None, local).map(|n| text(doc, n)) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Error::Value {
                element: local,
                value: v,
                expected: "an xs:boolean",
            }),
        },
    }
}

/// Reads the document in `doc`.
pub fn document(doc: &Document) -> Result<Csi, Error> {
    let root = doc.root();
    if !doc
        .element(root)
        .is_some_and(|e| e.is(Some(NS), "CapabilityAndSecurityInformation"))
    {
        return Err(Error::NotCsi(
            doc.element(root).map(|e| e.qname()).unwrap_or_default(),
        ));
    }
    let within = "CapabilityAndSecurityInformation";
    let sd = req(doc, root, Some(NS), "SchemeData", within)?;
    let w = "SchemeData";
    let seq = text(doc, req(doc, sd, Some(NS), "CSISequenceNumber", w)?);
    let issued = text(doc, req(doc, sd, Some(NS), "CSIIssueDateTime", w)?);
    let next = doc
        .first_child_named(sd, Some(NS), "CSINextUpdate")
        .and_then(|n| doc.child_elements(n).next())
        .map(|d| text(doc, d))
        .filter(|d| !d.is_empty());
    let scheme = SchemeData {
        version_identifier: text(doc, req(doc, sd, Some(NS), "CSIVersionIdentifier", w)?),
        sequence: seq.parse().map_err(|_| Error::Value {
            element: "CSISequenceNumber",
            value: seq.clone(),
            expected: "a positive integer",
        })?,
        operator: doc
            .first_child_named(sd, Some(NS), "CSISchemeOperatorName")
            .map(|n| names(doc, n, crate::tl::NS).0)
            .unwrap_or_default(),
        pointer_to_tl: text(doc, req(doc, sd, Some(NS), "CSIPointerToTL", w)?),
        issued: date_time(&issued, "CSIIssueDateTime").map_err(|_| Error::Value {
            element: "CSIIssueDateTime",
            value: issued.clone(),
            expected: "an xs:dateTime",
        })?,
        next_update: match next {
            Some(n) => Some(date_time(&n, "CSINextUpdate").map_err(|_| Error::Value {
                element: "CSINextUpdate",
                value: n.clone(),
                expected: "an xs:dateTime",
            })?),
            None => None,
        },
        distribution_points: uris(
            doc,
            doc.first_child_named(sd, Some(NS), "CSIDistributionPoints"),
        ),
        history: uris(
            doc,
            doc.first_child_named(sd, Some(NS), "CSIPointersToOtherMetadata"),
        ),
    };
    let cm = req(doc, root, Some(NS), "CapabilityMetadata", within)?;
    let em = req(doc, cm, Some(NS_ERDS), "ERDSMetadata", "CapabilityMetadata")?;
    let w = "ERDSMetadata";
    let id_node = req(doc, em, None, "ERDSId", w)?;
    let all = |local: &'static str| -> Vec<String> {
        doc.children_named(em, None, local)
            .map(|n| text(doc, n))
            .collect()
    };
    let erds = ErdsMetadata {
        version: doc.attribute(em, None, "version").map(str::to_owned),
        id: text(doc, id_node),
        id_scheme: doc
            .attribute(id_node, None, "IdentifierSchemeName")
            .map(str::to_owned),
        domain: text(doc, req(doc, em, None, "ERDSDomain", w)?),
        governing_body: text(doc, req(doc, em, None, "ERDSGoverningBody", w)?),
        profiles: all("ERDSProfileSupported"),
        expiry_support: boolean(doc, em, "ERDSExpiryDateAndTimeSupport")?,
        scheduled_delivery_support: boolean(doc, em, "ERDSScheduledDeliverySupport")?,
        assurance_levels: doc
            .children_named(em, None, "ERDSAssuranceLevelsSupported")
            .flat_map(|a| {
                doc.children_named(a, None, "AssuranceLevel")
                    .collect::<Vec<_>>()
            })
            .map(|n| text(doc, n))
            .collect(),
        consignment_modes: all("ERDSSupportedConsignmentModes"),
    };
    let sm = req(doc, root, Some(NS), "SecurityMetadata", within)?;
    let cbs = req(
        doc,
        sm,
        Some(NS),
        "CapabilityBasedSecurity",
        "SecurityMetadata",
    )?;
    let tls = text(
        doc,
        req(
            doc,
            cbs,
            Some(NS),
            "TLSCertificate",
            "CapabilityBasedSecurity",
        )?,
    );
    let cleaned: String = tls.chars().filter(|c| !c.is_whitespace()).collect();
    let tls_certificate = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("not base64: {e}"))
        .and_then(|der| crate::x509::Certificate::from_der(&der).map_err(|e| e.to_string()));
    Ok(Csi {
        version: doc
            .attribute(root, None, "version")
            .unwrap_or_default()
            .to_owned(),
        id: doc.attribute(root, None, "Id").map(str::to_owned),
        scheme,
        erds,
        security: Security {
            version: doc.attribute(cbs, None, "version").map(str::to_owned),
            tls_certificate,
        },
    })
}

/// Reads a CSI document from its bytes (its signature is not judged here; see
/// [`super::verify()`]).
pub fn parse(bytes: &[u8]) -> Result<Csi, Error> {
    document(&xml::parse(bytes)?)
}
