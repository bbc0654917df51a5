//! What a translation reports: the input and output described, the correlation ids, and the
//! translated bytes. The JSON form is what `ponte translate --json` prints.

use serde::Serialize;

use crate::correlate::Record;

/// One side of a translation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    /// `pec` or `rem`.
    pub format: &'static str,
    /// PEC: the type as `ponte verify --json` names it (`posta-certificata`, `accettazione`,
    /// ...). REM: the message type (`dispatch`, `receipt`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// REM: the event of the (main) evidence (`SubmissionAcceptance`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// REM: the reason codes of that evidence (`RA01`, ...; the URI when it has no code).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// PEC: the daticert `errore`, when not `nessuno`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errore: Option<String>,
    /// The message's Message-ID (with `<>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// One message produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// What it is.
    pub described: Described,
    /// The message, CRLF, signed.
    pub bytes: Vec<u8>,
}

/// A finished translation: one output message, except for REM evidences about several
/// recipients, which become one PEC receipt per recipient (in the evidence's order).
#[derive(Debug, Clone)]
pub struct Translation {
    /// What came in.
    pub input: Described,
    /// What went out (at least one).
    pub outputs: Vec<Output>,
    /// The id of the mapping row applied (`mappings/events.toml`).
    pub mapping: String,
    /// What was recorded in the correlation store.
    pub record: Record,
    /// Remarks (e.g. evidence left at B-B because no TSA is configured, no dispatch recorded
    /// for a receipt).
    pub notes: Vec<String>,
    /// The sender's identity assurance the evidence states: Ponte's (PEC → REM, from the
    /// holders' source) or the incoming evidence's (REM → PEC); `None`: none stated.
    pub sender_assurance: Option<crate::correlate::SenderAssurance>,
    /// REM → PEC with trusted lists loaded: what they say of the time-stamping unit of each
    /// valid evidence's time-stamp (empty otherwise).
    pub timestamps: Vec<TsuJudgement>,
}

/// What the trusted lists say of the time-stamping unit of one incoming evidence's
/// `SignatureTimeStamp`: is it a granted qualified TSU (`.../Svctype/TSA/QTST`) at the
/// token's genTime? A mark, never a refusal (`manual::trust`).
#[derive(Debug, Clone)]
pub struct TsuJudgement {
    /// The evidence's file name in the REM message.
    pub evidence: String,
    /// The TSU certificate's subject.
    pub tsu: String,
    /// The token's genTime, the instant judged.
    pub gen_time: time::OffsetDateTime,
    /// The lists' answer.
    pub verdict: crate::tl::Verdict,
    /// Whether that answer rests on a list whose signature was not verified.
    pub unverified: bool,
}

impl TsuJudgement {
    /// `{evidence, tsu, time, qualified_tsu, trusted_list}`, `trusted_list` as
    /// `ponte trust check --json` prints a verdict.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "evidence": self.evidence,
            "tsu": self.tsu,
            "time": self.gen_time.format(&time::format_description::well_known::Rfc3339).ok(),
            "qualified_tsu": self.verdict.qualified(),
            "trusted_list": self.verdict.to_json(self.unverified),
        })
    }
}

/// What kind of refusal a translation makes: the service chooses from it between refusing the
/// message in the SMTP dialogue (`554`, [`RefusalKind::is_authenticity`]), a PEC notice to the
/// sender and a REM rejection evidence; harnesses and reports name it by [`RefusalKind::as_str`].
/// The text of a refusal is derived from its kind ([`RefusalKind::describe`]) and a detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalKind {
    /// The input is not a MIME message at all.
    NotMime,
    /// A MIME message that is not a PEC message (no `X-Trasporto` / `X-Ricevuta`, or not
    /// readable as PEC).
    NotPec,
    /// A MIME message that is not a REM message (no `REM-*` metadata, unreadable sections).
    NotRem,
    /// The message carries no S/MIME signature.
    Unsigned,
    /// The S/MIME signature does not verify (content or signed attributes altered).
    SignatureInvalid,
    /// The signature verifies but its certificate path does not reach a trust anchor at the
    /// instant judged (unknown CA, expired, not yet valid).
    SignerUntrusted,
    /// The message carries no signer certificate to judge.
    NoSignerCertificate,
    /// The PEC signer is not the certificate of any provider in the index.
    SignerNotProvider,
    /// A REM message carries no evidence, or an evidence that is unreadable, not valid or not
    /// trusted.
    EvidenceInvalid,
    /// The attached original does not digest to what the signed evidences state.
    DigestMismatch,
    /// No row of the mapping tables covers the input.
    NoMapping,
    /// The mapping row says the input has no translation (a PEC notice with no REM event).
    NotTranslatable,
    /// A part the translation cannot do without is missing (daticert.xml, postacert.eml, the
    /// original, the sender or the recipients, the main evidence).
    Incomplete,
    /// A part is present but cannot be read or prepared (postacert.eml, the original).
    Malformed,
    /// A receipt about a message this gateway never translated (its digest and recipients
    /// cannot be stated).
    UnknownMessage,
    /// A receipt that names no recipient about a message that had several.
    AmbiguousRecipient,
    /// The facts cannot make a valid evidence or message (the evidence rules refuse them).
    Unbuildable,
    /// The sender's identity is not confirmed by the holders' source (not listed, not
    /// verified, no level of assurance, no two-factor access when required) and `[holders]
    /// unverified = "refuse"`: the gateway answers with a non-accettazione
    /// ([`super::notice::non_accettazione`]).
    HolderUnverified,
    /// A REM receipt about an output this gateway delivered to a REM peer found by
    /// discovery, whose evidence is not signed by the digital identity of the service it was
    /// delivered to (another service's, however qualified, is not the recipient's ERDS).
    EvidenceWrongService,
}

impl RefusalKind {
    /// Every kind, in declaration order.
    pub const ALL: [RefusalKind; 19] = [
        RefusalKind::NotMime,
        RefusalKind::NotPec,
        RefusalKind::NotRem,
        RefusalKind::Unsigned,
        RefusalKind::SignatureInvalid,
        RefusalKind::SignerUntrusted,
        RefusalKind::NoSignerCertificate,
        RefusalKind::SignerNotProvider,
        RefusalKind::EvidenceInvalid,
        RefusalKind::DigestMismatch,
        RefusalKind::NoMapping,
        RefusalKind::NotTranslatable,
        RefusalKind::Incomplete,
        RefusalKind::Malformed,
        RefusalKind::UnknownMessage,
        RefusalKind::AmbiguousRecipient,
        RefusalKind::Unbuildable,
        RefusalKind::HolderUnverified,
        RefusalKind::EvidenceWrongService,
    ];

    /// The kind's stable name (`--json` `refusal`, conformance vectors): kebab-case.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::NotMime => "not-mime",
            RefusalKind::NotPec => "not-pec",
            RefusalKind::NotRem => "not-rem",
            RefusalKind::Unsigned => "unsigned",
            RefusalKind::SignatureInvalid => "signature-invalid",
            RefusalKind::SignerUntrusted => "signer-untrusted",
            RefusalKind::NoSignerCertificate => "no-signer-certificate",
            RefusalKind::SignerNotProvider => "signer-not-provider",
            RefusalKind::EvidenceInvalid => "evidence-invalid",
            RefusalKind::DigestMismatch => "digest-mismatch",
            RefusalKind::NoMapping => "no-mapping",
            RefusalKind::NotTranslatable => "not-translatable",
            RefusalKind::Incomplete => "incomplete",
            RefusalKind::Malformed => "malformed",
            RefusalKind::UnknownMessage => "unknown-message",
            RefusalKind::AmbiguousRecipient => "ambiguous-recipient",
            RefusalKind::Unbuildable => "unbuildable",
            RefusalKind::HolderUnverified => "holder-unverified",
            RefusalKind::EvidenceWrongService => "evidence-wrong-service",
        }
    }

    /// The kind named `s` ([`RefusalKind::as_str`]).
    pub fn from_name(s: &str) -> Option<RefusalKind> {
        RefusalKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind in a few words: the start of every refusal's text.
    pub fn describe(self) -> &'static str {
        match self {
            RefusalKind::NotMime => "not a MIME message",
            RefusalKind::NotPec => "not a PEC message",
            RefusalKind::NotRem => "not a REM message",
            RefusalKind::Unsigned => "not signed",
            RefusalKind::SignatureInvalid => "signature not valid",
            RefusalKind::SignerUntrusted => "signer not trusted",
            RefusalKind::NoSignerCertificate => "no signer certificate",
            RefusalKind::SignerNotProvider => "signer is not a provider of the index",
            RefusalKind::EvidenceInvalid => "evidence not acceptable",
            RefusalKind::DigestMismatch => "the original does not match its evidence",
            RefusalKind::NoMapping => "no row of the mappings",
            RefusalKind::NotTranslatable => "no translation",
            RefusalKind::Incomplete => "incomplete message",
            RefusalKind::Malformed => "unreadable part",
            RefusalKind::UnknownMessage => "about a message never translated here",
            RefusalKind::AmbiguousRecipient => "recipient not stated",
            RefusalKind::Unbuildable => "cannot be issued",
            RefusalKind::HolderUnverified => "the sender's identity is not confirmed",
            RefusalKind::EvidenceWrongService => {
                "evidence not signed by the service the message was delivered to"
            }
        }
    }

    /// Whether the refusal is about who sent the message or whether it is what it claims to
    /// be (format, signature, trust, provider, evidence, digest): the gateway answers these in
    /// the SMTP dialogue with `554` instead of accepting the message. The other kinds are
    /// found after the message was accepted and are answered with a notice or a rejection
    /// evidence.
    pub fn is_authenticity(self) -> bool {
        matches!(
            self,
            RefusalKind::NotMime
                | RefusalKind::NotPec
                | RefusalKind::NotRem
                | RefusalKind::Unsigned
                | RefusalKind::SignatureInvalid
                | RefusalKind::SignerUntrusted
                | RefusalKind::NoSignerCertificate
                | RefusalKind::SignerNotProvider
                | RefusalKind::EvidenceInvalid
                | RefusalKind::DigestMismatch
                | RefusalKind::EvidenceWrongService
        )
    }
}

impl std::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RefusalKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why an input was not translated (exit 1): a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was understood of the input before refusing it, when anything.
    pub input: Option<Described>,
    /// What kind of refusal.
    pub kind: RefusalKind,
    /// What exactly (the signer, the part, the cause below), possibly empty.
    pub detail: String,
}

impl Refusal {
    /// A refusal of a kind, with a detail and what was known of the input.
    pub fn new(input: Option<&Described>, kind: RefusalKind, detail: impl Into<String>) -> Refusal {
        Refusal {
            input: input.cloned(),
            kind,
            detail: detail.into(),
        }
    }

    /// The refusal in one line: the kind described, then the detail.
    pub fn reason(&self) -> String {
        if self.detail.is_empty() {
            self.kind.describe().to_owned()
        } else {
            format!("{}: {}", self.kind.describe(), self.detail)
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

/// The result of translating one input: translated or refused; `Err` is for failures that are
/// not the input's fault (TSA unreachable, store not writable, configuration broken).
pub type Outcome = Result<Result<Translation, Refusal>, super::Error>;

/// The JSON report of a translation: `output` is the first (usually only) message, `outputs`
/// all of them; `written` names where each was written.
pub fn json_translated(
    file: &str,
    t: &Translation,
    written: &[Option<String>],
) -> serde_json::Value {
    let outputs: Vec<serde_json::Value> = t
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut v = serde_json::to_value(&o.described).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert(
                    "written_to".into(),
                    written.get(i).cloned().flatten().into(),
                );
            }
            v
        })
        .collect();
    serde_json::json!({
        "file": file,
        "translated": true,
        "input": t.input,
        "output": outputs.first().cloned().unwrap_or_default(),
        "outputs": outputs,
        "mapping": t.mapping,
        "correlation": t.record,
        "sender_assurance": t.sender_assurance,
        "timestamps": t.timestamps.iter().map(TsuJudgement::to_json).collect::<Vec<_>>(),
        "notes": t.notes,
    })
}

/// The JSON report of a refusal.
pub fn json_refused(file: &str, r: &Refusal) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "translated": false,
        "input": r.input,
        "refusal": r.kind,
        "reason": r.reason(),
    })
}
