//! `ponte trust show`: MX → supply point → service → status → capability document.

use super::Outcome;
use super::trust::ShowArgs;

pub(crate) fn show(_a: ShowArgs) -> Outcome {
    Err(super::Failure("trust show: not yet".into()))
}
