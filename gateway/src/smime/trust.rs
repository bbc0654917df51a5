//! Trust in the signer of an S/MIME message: its chain to given anchors at a given instant.

use super::{Error, SmimeVerdict};
use crate::x509::{Certificate, TrustVerdict, Usage, verify_chain};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The instant at which trust is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustTime {
    /// A given instant (the caller's "now", or a fixed one).
    At(OffsetDateTime),
    /// The CMS signingTime of the message (as claimed by the signer).
    SigningTime,
}

impl TrustTime {
    /// Reads the CLI form: `now` (then `now` is used), `signing-time`, or an RFC 3339 instant.
    pub fn parse(s: &str, now: OffsetDateTime) -> Result<Self, Error> {
        match s {
            "now" => Ok(Self::At(now)),
            "signing-time" => Ok(Self::SigningTime),
            other => OffsetDateTime::parse(other, &Rfc3339)
                .map(Self::At)
                .map_err(|_| Error::Instant(other.to_string())),
        }
    }
}

/// Judges trust in the signer of `verdict`: a path from its signer certificate to one of
/// `anchors`, using the certificates carried in the CMS and `intermediates`, valid at `at`,
/// with EKU emailProtection when the certificates carry an EKU extension.
pub fn trust(
    verdict: &SmimeVerdict,
    anchors: &[Certificate],
    intermediates: &[Certificate],
    at: TrustTime,
) -> TrustVerdict {
    let untrusted = |reason: &str| TrustVerdict {
        trusted: false,
        reason: Some(reason.into()),
        path: Vec::new(),
    };
    let Some(signer) = &verdict.signer_certificate else {
        return untrusted("no signer certificate");
    };
    let instant = match at {
        TrustTime::At(t) => t,
        TrustTime::SigningTime => match verdict.signing_time {
            Some(t) => t,
            None => return untrusted("the signature has no signingTime to judge at"),
        },
    };
    let mut pool: Vec<Certificate> = verdict.certificates.clone();
    pool.extend(intermediates.iter().cloned());
    verify_chain(signer, &pool, anchors, instant, Usage::EmailProtection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn instants_parse() {
        let now = datetime!(2026-11-24 17:00 UTC);
        assert_eq!(TrustTime::parse("now", now).ok(), Some(TrustTime::At(now)));
        assert_eq!(
            TrustTime::parse("signing-time", now).ok(),
            Some(TrustTime::SigningTime)
        );
        assert_eq!(
            TrustTime::parse("2024-12-05T00:00:00+01:00", now).ok(),
            Some(TrustTime::At(datetime!(2024-12-04 23:00 UTC)))
        );
        assert!(matches!(
            TrustTime::parse("yesterday", now),
            Err(Error::Instant(_))
        ));
    }
}
