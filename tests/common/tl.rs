//! Trusted lists (TS 119 612 v2) made by the tests: a list (or list of lists) as XML with
//! the services given, signed with Ponte's own XAdES signer and a key of the test PKI.

use super::pki;

/// One service of a test list.
pub struct Svc<'a> {
    /// Its `ServiceTypeIdentifier`.
    pub service_type: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its digital identity: a test PKI file name, or an absolute path to a PEM file.
    pub cert: &'a str,
    /// (status, since), oldest first; the last one is the current information.
    pub statuses: &'a [(&'a str, &'a str)],
    /// Its `ServiceSupplyPoint`s.
    pub supply_points: &'a [&'a str],
}

/// Service statuses, types and the TS 119 612 namespace.
pub const GRANTED: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted";
pub const WITHDRAWN: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn";
pub const REM_Q: &str = "http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q";
pub const QTST: &str = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST";
pub const NS: &str = "http://uri.etsi.org/02231/v2#";

/// The base64 of the first certificate of a PEM file (test PKI name or absolute path).
pub fn b64_of(pem_file: &str) -> String {
    let text = std::fs::read_to_string(pki(pem_file)).expect("pem");
    text.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect()
}

/// A `ServiceDigitalIdentity` with that certificate.
pub fn identity(cert: &str) -> String {
    format!(
        "<ServiceDigitalIdentity><DigitalId><X509Certificate>{}</X509Certificate></DigitalId></ServiceDigitalIdentity>",
        b64_of(cert)
    )
}

/// A TS 119 612 list: `pointers` (location, signer PEM, TSLType) and one provider with `services`.
pub fn list_xml(
    territory: &str,
    seq: u32,
    tsl_type: &str,
    pointers: &[(&str, &str, &str)],
    tsp: &str,
    services: &[Svc<'_>],
) -> String {
    // Issued now: the test signers' certificates are valid from when tests/pki was made.
    let issued = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut x = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<TrustServiceStatusList xmlns="{NS}" xmlns:ns3="http://uri.etsi.org/02231/v2/additionaltypes#" Id="tsl-{territory}" TSLTag="http://uri.etsi.org/19612/TSLTag">
<SchemeInformation><TSLVersionIdentifier>5</TSLVersionIdentifier><TSLSequenceNumber>{seq}</TSLSequenceNumber>
<TSLType>{tsl_type}</TSLType><SchemeOperatorName><Name xml:lang="en">{territory} test operator</Name></SchemeOperatorName>
<SchemeTerritory>{territory}</SchemeTerritory><ListIssueDateTime>{issued}</ListIssueDateTime>
<NextUpdate><dateTime>2126-01-01T00:00:00Z</dateTime></NextUpdate>"#
    );
    if !pointers.is_empty() {
        x.push_str("<PointersToOtherTSL>");
        for (loc, signer, t) in pointers {
            x.push_str(&format!(
                "<OtherTSLPointer><ServiceDigitalIdentities>{}</ServiceDigitalIdentities><TSLLocation>{loc}</TSLLocation><AdditionalInformation><OtherInformation><TSLType>{t}</TSLType></OtherInformation><OtherInformation><ns3:MimeType>application/vnd.etsi.tsl+xml</ns3:MimeType></OtherInformation></AdditionalInformation></OtherTSLPointer>",
                identity(signer)
            ));
        }
        x.push_str("</PointersToOtherTSL>");
    }
    x.push_str("</SchemeInformation>");
    if !services.is_empty() {
        x.push_str(&format!("<TrustServiceProviderList><TrustServiceProvider><TSPInformation><TSPName><Name xml:lang=\"en\">{tsp}</Name></TSPName></TSPInformation><TSPServices>"));
        for sv in services {
            let (cur, hist) = sv.statuses.split_last().expect("a status");
            let points: String = sv
                .supply_points
                .iter()
                .map(|p| format!("<ServiceSupplyPoint>{p}</ServiceSupplyPoint>"))
                .collect();
            x.push_str(&format!(
                "<TSPService><ServiceInformation><ServiceTypeIdentifier>{}</ServiceTypeIdentifier><ServiceName><Name xml:lang=\"en\">{}</Name></ServiceName>{}<ServiceStatus>{}</ServiceStatus><StatusStartingTime>{}</StatusStartingTime>{}</ServiceInformation>",
                sv.service_type, sv.name, identity(sv.cert), cur.0, cur.1,
                if points.is_empty() { String::new() } else { format!("<ServiceSupplyPoints>{points}</ServiceSupplyPoints>") }
            ));
            if !hist.is_empty() {
                x.push_str("<ServiceHistory>");
                for (st, since) in hist.iter().rev() {
                    x.push_str(&format!(
                        "<ServiceHistoryInstance><ServiceTypeIdentifier>{}</ServiceTypeIdentifier><ServiceName><Name xml:lang=\"en\">{}</Name></ServiceName>{}<ServiceStatus>{st}</ServiceStatus><StatusStartingTime>{since}</StatusStartingTime></ServiceHistoryInstance>",
                        sv.service_type, sv.name, identity(sv.cert)
                    ));
                }
                x.push_str("</ServiceHistory>");
            }
            x.push_str("</TSPService>");
        }
        x.push_str("</TSPServices></TrustServiceProvider></TrustServiceProviderList>");
    }
    x.push_str("</TrustServiceStatusList>\n");
    x
}

/// Signs `xml` with Ponte's own XAdES signer and the test PKI key `name`.
pub fn sign(xml: &str, name: &str) -> Vec<u8> {
    let key = ponte::crypto::SigningKey::from_pkcs8_pem(
        &std::fs::read(pki(&format!("{name}.key.pem"))).expect("key"),
    )
    .expect("key");
    let cert = ponte::x509::load_pem(&std::fs::read(pki(&format!("{name}.pem"))).expect("cert"))
        .expect("pem")
        .remove(0);
    let ca =
        ponte::x509::load_pem(&std::fs::read(pki("provider-ca.pem")).expect("ca")).expect("pem");
    let signer = ponte::xades::Signer::new(key, cert, ca).expect("signer");
    let opts = ponte::xades::SignOptions {
        signing_time: time::OffsetDateTime::now_utc(),
        id: None,
    };
    ponte::xades::sign_b_b(xml.as_bytes(), &signer, &opts).expect("sign")
}

/// A capability and security information document (EN 319 532-4 C.2.3.4) for the MX host
/// `domain`, governing body `body` (the TSP name), profile `profile`, TLS certificate
/// `tls_cert` (test PKI file name).
pub fn csi_xml(domain: &str, body: &str, tls_cert: &str, profile: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<tns:CapabilityAndSecurityInformation xmlns:tns="http://uri.etsi.org/19532/v1#" xmlns:tl="{NS}" xmlns:ci="http://uri.etsi.org/19522/v1#" xmlns:si="http://uri.etsi.org/19532/v1#" version="EN319532v1" Id="csi-1">
<tns:SchemeData><tns:CSIVersionIdentifier>1</tns:CSIVersionIdentifier><tns:CSISequenceNumber>1</tns:CSISequenceNumber>
<tns:CSISchemeOperatorName><tl:Name xml:lang="en">Test REMID authority</tl:Name></tns:CSISchemeOperatorName>
<tns:CSISchemeOperatorAddress><tl:PostalAddresses><tl:PostalAddress xml:lang="en"><tl:StreetAddress>s</tl:StreetAddress><tl:Locality>l</tl:Locality><tl:CountryName>IT</tl:CountryName></tl:PostalAddress></tl:PostalAddresses><tl:ElectronicAddress><tl:URI>mailto:remid@remid.test</tl:URI></tl:ElectronicAddress></tns:CSISchemeOperatorAddress>
<tns:CSISchemeInformationURI><tl:URI xml:lang="en">https://remid.test/scheme</tl:URI></tns:CSISchemeInformationURI>
<tns:CSISchemePolicyCommunityRules><tl:URI xml:lang="en">https://remid.test/policy</tl:URI></tns:CSISchemePolicyCommunityRules>
<tns:CSIPointerToTL>https://tl.test/tl-it.xml</tns:CSIPointerToTL><tns:CSIIssueDateTime>2026-01-01T00:00:00Z</tns:CSIIssueDateTime>
<tns:CSINextUpdate><tl:dateTime>2126-01-01T00:00:00Z</tl:dateTime></tns:CSINextUpdate>
<tns:CSIDistributionPoints><tl:URI>https://{domain}/csi.xml</tl:URI></tns:CSIDistributionPoints></tns:SchemeData>
<tns:CapabilityMetadata><ci:ERDSMetadata version="EN319522v1.1.1"><ERDSId IdentifierSchemeName="http">http://{domain}/rems-id.html</ERDSId>
<ERDSDomain>{domain}</ERDSDomain><ERDSGoverningBody>{body}</ERDSGoverningBody><ERDSProfileSupported>{profile}</ERDSProfileSupported>
<ERDSExpiryDateAndTimeSupport>false</ERDSExpiryDateAndTimeSupport><ERDSScheduledDeliverySupport>false</ERDSScheduledDeliverySupport>
<ERDSAssuranceLevelsSupported><AssuranceLevel>http://eidas.europa.eu/LoA/substantial</AssuranceLevel></ERDSAssuranceLevelsSupported>
<ERDSSupportedConsignmentModes>http://uri.etsi.org/19522/v1#/consignment/basic</ERDSSupportedConsignmentModes></ci:ERDSMetadata></tns:CapabilityMetadata>
<tns:SecurityMetadata><si:CapabilityBasedSecurity version="EN319532v1"><si:TLSCertificate>{}</si:TLSCertificate></si:CapabilityBasedSecurity></tns:SecurityMetadata>
</tns:CapabilityAndSecurityInformation>
"#,
        b64_of(tls_cert)
    )
}
