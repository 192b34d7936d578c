//! Withdrawals paid by a gateway's transfer API (Alipay 单笔转账). When the platform approves a withdrawal whose
//! payee is an Alipay account and the Alipay gateway is configured, the approval queues the transfer
//! ([`crate::finance::decide_withdrawal`]); this job asks the gateway to pay it with a number that never changes
//! for that withdrawal (`W<id>`), so however often it is asked — a retry after a timeout, a crash between the
//! gateway's answer and our record, two instances — the payee is paid once. The answer is recorded by
//! compare-and-set: done (the gateway's order id becomes the payout reference, the money leaves the shop's
//! pending account) or refused (the money returns to the shop's available balance with the gateway's reason).
//! No answer, or "processing", is asked again later with backoff. Bank payees stay manual.

use crate::finance::{move_decided_money, FinanceError};
use crate::gateways::{Gateway, GatewayError, TransferOutcome, TransferRequest};
use crate::App;
use kabao_core::payee::PayeeKind;
use kabao_store::{PayeeSnapshot, StoreError, TransferDue, TxMode, WithdrawalState};
use std::sync::Arc;

/// The lease of the transfer job (a row created by migration 0023).
pub const TRANSFER_JOB: &str = "withdrawal_transfers";
/// Transfers asked per pass.
const BATCH: i64 = 20;
/// The first retry waits this long; each further one twice as long, up to [`MAX_BACKOFF_SECONDS`].
const FIRST_BACKOFF_SECONDS: i64 = 60;
const MAX_BACKOFF_SECONDS: i64 = 3600;

/// Our number for a withdrawal's transfer: stable, so the gateway pays it once.
pub fn out_biz_no(withdrawal_id: i64) -> String {
    format!("W{withdrawal_id}")
}

/// The gateway that pays a payee by transfer, if one is configured and says it transfers
/// ([`Gateway::transfers`]): an Alipay payee through the Alipay gateway. Bank payees are paid by hand.
pub fn transfer_gateway<'a>(state: &'a App, payee: &PayeeSnapshot) -> Option<&'a Arc<dyn Gateway>> {
    match payee.kind {
        PayeeKind::Alipay => state.gateways.get(crate::gateways::alipay::ALIPAY).filter(|g| g.transfers()),
        PayeeKind::Bank => None,
    }
}

fn backoff_seconds(attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(0);
    FIRST_BACKOFF_SECONDS.saturating_mul(1_i64 << doublings).min(MAX_BACKOFF_SECONDS)
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferPass {
    /// Transfers the gateway confirmed, recorded as paid.
    pub paid: u64,
    /// Transfers the gateway refused: the money is back in the shop's available balance.
    pub refused: u64,
    /// Transfers with no final answer yet, asked again later.
    pub retried: u64,
}

/// One pass: every queued transfer that is due is asked of its gateway, and its answer recorded.
pub async fn run(state: &App) -> Result<TransferPass, FinanceError> {
    let mut pass = TransferPass::default();
    let due = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.withdrawal_transfers_due(state.now(), BATCH).await?
    };
    for item in due {
        match transfer_one(state, &item).await? {
            Some(WithdrawalState::Approved) => pass.paid += 1,
            Some(_) => pass.refused += 1,
            None => pass.retried += 1,
        }
    }
    Ok(pass)
}

/// Asks for one transfer and records the answer; `None` when it is to be asked again.
async fn transfer_one(state: &App, item: &TransferDue) -> Result<Option<WithdrawalState>, FinanceError> {
    let w = &item.withdrawal;
    let number = out_biz_no(w.id);
    let Some(gateway) = w.payee.as_ref().and_then(|p| transfer_gateway(state, p).map(|g| (g, p))) else {
        postpone(state, item, "no transfer gateway is configured for this payee").await?;
        return Ok(None);
    };
    let (gateway, payee) = gateway;
    let request = TransferRequest {
        out_biz_no: &number,
        amount: w.net(),
        account: &payee.account,
        name: &payee.holder_name,
        remark: "卡保提现 Kabao withdrawal",
    };
    let (to, payout_ref, note) = match gateway.transfer(&request).await {
        Ok(TransferOutcome::Done { gateway_order_id }) => (WithdrawalState::Approved, Some(gateway_order_id), None),
        Ok(TransferOutcome::Refused { reason }) => (WithdrawalState::Rejected, None, Some(reason)),
        Ok(TransferOutcome::Processing) => {
            postpone(state, item, "the gateway is processing the transfer").await?;
            return Ok(None);
        }
        // Anything else may or may not have paid: never taken as a refusal; the same number is asked again.
        Err(e) => {
            if matches!(e, GatewayError::Unsupported | GatewayError::Config(_)) {
                tracing::error!(withdrawal = w.id, error = %e, gateway = gateway.id(), "transfer cannot be asked");
            }
            postpone(state, item, &e.to_string()).await?;
            return Ok(None);
        }
    };
    let now = state.now();
    let mut tx = state.store.begin(TxMode::Write).await?;
    let note = note.map(|r| format!("支付宝转账失败 / Alipay transfer refused: {r}"));
    match tx.finish_withdrawal_transfer(w.id, to, payout_ref.as_deref(), note.as_deref(), now).await {
        Ok(true) => {}
        // Recorded by another runner meanwhile: nothing more to do.
        Ok(false) => return Ok(Some(to)),
        Err(StoreError::Conflict(_)) => {
            tracing::error!(withdrawal = w.id, "the gateway's transfer order id is recorded on another withdrawal");
            drop(tx);
            postpone(state, item, "transfer order id already recorded on another withdrawal").await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    move_decided_money(&mut *tx, w, to, now).await?;
    tx.commit().await?;
    match to {
        WithdrawalState::Approved => {
            tracing::info!(withdrawal = w.id, out_biz_no = %number, "withdrawal paid by transfer")
        }
        _ => {
            let reason = note.as_deref().unwrap_or_default();
            tracing::warn!(withdrawal = w.id, out_biz_no = %number, reason, "withdrawal transfer refused; returned")
        }
    }
    Ok(Some(to))
}

async fn postpone(state: &App, item: &TransferDue, why: &str) -> Result<(), StoreError> {
    let next = state.now().plus_seconds(backoff_seconds(item.attempts));
    tracing::warn!(
        withdrawal = item.withdrawal.id,
        attempts = item.attempts + 1,
        why,
        "withdrawal transfer retried later"
    );
    let mut tx = state.store.begin(TxMode::Write).await?;
    let why: String = why.chars().take(500).collect();
    tx.postpone_withdrawal_transfer(item.withdrawal.id, item.attempts, next, &why).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(super::backoff_seconds(0), 60);
        assert_eq!(super::backoff_seconds(1), 120);
        assert_eq!(super::backoff_seconds(5), 1920);
        assert_eq!(super::backoff_seconds(6), 3600);
        assert_eq!(super::backoff_seconds(1000), 3600);
        assert_eq!(super::out_biz_no(42), "W42");
    }
}
