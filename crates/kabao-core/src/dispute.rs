//! Disputes (平台介入): what an arbiter may rule, and where the money for a refund comes from — the order's
//! escrow while it holds any, then the shop's available balance, then its deposit (保证金), and last the
//! compensation fund (纠纷赔付基金), which advances the rest and records it as the shop's debt.

use crate::i18n::{Lang, Localized};
use crate::ledger::{Account, LedgerError, LedgerTx, OrderId, Posting, TxKind};
use crate::money::Money;
use crate::ShopId;

/// An arbiter's ruling on an escalated claim. Every ruling carries a written reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ruling {
    /// A fresh key from the shop's stock, the reported one voided.
    ForceReissue,
    /// Money back to the buyer: the item's whole price, or part of it.
    Refund { amount: Money },
    /// The claim fails; nothing moves.
    Reject,
}

impl Ruling {
    pub fn as_str(self) -> &'static str {
        match self {
            Ruling::ForceReissue => "force_reissue",
            Ruling::Refund { .. } => "refund",
            Ruling::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeError {
    ReasonRequired,
    /// A refund must be more than zero and at most the item's price.
    AmountOutOfRange {
        max: Money,
    },
    /// Escrow, the shop's balance and deposit, and the fund together cannot cover the refund.
    FundShort {
        short: Money,
    },
    UnknownRuling,
}

impl Localized for DisputeError {
    fn code(&self) -> &'static str {
        match self {
            DisputeError::ReasonRequired => "dispute.reason_required",
            DisputeError::AmountOutOfRange { .. } => "dispute.amount_out_of_range",
            DisputeError::FundShort { .. } => "dispute.fund_short",
            DisputeError::UnknownRuling => "dispute.ruling_invalid",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            DisputeError::ReasonRequired => Some("reason"),
            DisputeError::AmountOutOfRange { .. } => Some("refund_fen"),
            DisputeError::FundShort { .. } => None,
            DisputeError::UnknownRuling => Some("ruling"),
        }
    }

    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (DisputeError::ReasonRequired, _) => {
                lang.pick("裁决必须写明理由", "A ruling needs a written reason").into()
            }
            (DisputeError::AmountOutOfRange { max }, Lang::Zh) => {
                format!("退款金额须大于 0 且不超过该件商品的价格 {max}")
            }
            (DisputeError::AmountOutOfRange { max }, Lang::En) => {
                format!("The refund must be above zero and at most the item's price, {max}")
            }
            (DisputeError::FundShort { short }, Lang::Zh) => format!("赔付基金余额不足，还差 {short}"),
            (DisputeError::FundShort { short }, Lang::En) => format!("The compensation fund is short by {short}"),
            (DisputeError::UnknownRuling, _) => {
                lang.pick("裁决只能是强制补发、退款或驳回", "The ruling must be force_reissue, refund or reject").into()
            }
        }
    }
}

/// Checks a ruling before anything runs: a reason, and a refund within the item's price.
pub fn check_ruling(ruling: Ruling, reason: &str, item_price: Money) -> Result<(), DisputeError> {
    if reason.trim().is_empty() {
        return Err(DisputeError::ReasonRequired);
    }
    if let Ruling::Refund { amount } = ruling {
        if !amount.is_positive() || amount > item_price {
            return Err(DisputeError::AmountOutOfRange { max: item_price });
        }
    }
    Ok(())
}

/// What each source holds when a refund is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sources {
    pub escrow: Money,
    pub available: Money,
    pub deposit: Money,
    /// The fund's cash: its account less what it has advanced and not yet recovered.
    pub fund: Money,
}

/// How much each source pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub from_escrow: Money,
    pub from_available: Money,
    pub from_deposit: Money,
    pub from_fund: Money,
}

impl Plan {
    pub fn total(&self) -> Money {
        Money::from_fen(
            self.from_escrow.fen() + self.from_available.fen() + self.from_deposit.fen() + self.from_fund.fen(),
        )
    }
}

/// Takes `amount` from escrow, then the shop's balance, then its deposit, then the fund.
pub fn plan(amount: Money, s: Sources) -> Result<Plan, DisputeError> {
    let mut left = amount.fen().max(0);
    let mut take = |have: Money| {
        let t = left.min(have.fen().max(0));
        left -= t;
        Money::from_fen(t)
    };
    let p = Plan {
        from_escrow: take(s.escrow),
        from_available: take(s.available),
        from_deposit: take(s.deposit),
        from_fund: take(s.fund),
    };
    if left > 0 {
        return Err(DisputeError::FundShort { short: Money::from_fen(left) });
    }
    Ok(p)
}

/// The refund as one balanced transaction to `to` (a buyer's wallet, or the gateway for a guest). The fund's
/// part is an advance: it is posted against the shop's fund receivable, whose negative balance is the debt.
pub fn payout(p: &Plan, order: OrderId, shop: ShopId, to: Account) -> Result<LedgerTx, LedgerError> {
    let neg = |m: Money| Money::from_fen(-m.fen());
    let total = p.total();
    if !total.is_positive() {
        return Err(LedgerError::NonPositiveAmount);
    }
    LedgerTx::new(
        TxKind::Refund,
        vec![
            Posting { account: Account::Escrow(order), amount: neg(p.from_escrow) },
            Posting { account: Account::MerchantAvailable(shop), amount: neg(p.from_available) },
            Posting { account: Account::MerchantDeposit(shop), amount: neg(p.from_deposit) },
            Posting { account: Account::FundReceivable(shop), amount: neg(p.from_fund) },
            Posting { account: to, amount: total },
        ],
    )
}

/// The fund's cash: its account plus the (negative) receivables of the shops it advanced money for.
pub fn fund_cash(fund_account: Money, receivables: impl IntoIterator<Item = Money>) -> Money {
    Money::from_fen(fund_account.fen() + receivables.into_iter().map(|m| m.fen()).sum::<i64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{self, Balances};
    use crate::UserId;
    use proptest::prelude::*;

    fn m(f: i64) -> Money {
        Money::from_fen(f)
    }

    #[test]
    fn refunds_come_from_escrow_then_balance_then_deposit_then_fund() {
        let s = Sources { escrow: m(100), available: m(50), deposit: m(30), fund: m(1_000) };
        let p = plan(m(90), s).unwrap();
        assert_eq!(p, Plan { from_escrow: m(90), ..Plan::default() });
        let p = plan(m(250), s).unwrap();
        assert_eq!((p.from_escrow, p.from_available, p.from_deposit, p.from_fund), (m(100), m(50), m(30), m(70)));
        assert_eq!(plan(m(1_181), s), Err(DisputeError::FundShort { short: m(1) }));
    }

    #[test]
    fn rulings_need_a_reason_and_a_refund_within_the_price() {
        assert_eq!(check_ruling(Ruling::Reject, " ", m(990)), Err(DisputeError::ReasonRequired));
        assert_eq!(
            check_ruling(Ruling::Refund { amount: m(991) }, "r", m(990)),
            Err(DisputeError::AmountOutOfRange { max: m(990) })
        );
        assert!(check_ruling(Ruling::Refund { amount: m(0) }, "r", m(990)).is_err());
        assert!(check_ruling(Ruling::Refund { amount: m(400) }, "partial", m(990)).is_ok());
        assert!(check_ruling(Ruling::ForceReissue, "stock", m(990)).is_ok());
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A claim refund of one item from escrow (only while escrow holds the price).
        ClaimRefund,
        /// A dispute refund of `fen` (capped at the item price) after whatever happened.
        DisputeRefund(i64),
        Settle,
        /// The shop withdraws part of its balance.
        Withdraw(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::ClaimRefund),
            (1i64..1_500).prop_map(Op::DisputeRefund),
            Just(Op::Settle),
            (1i64..3_000).prop_map(Op::Withdraw),
        ]
    }

    proptest! {
        /// Any sequence of claims, dispute rulings, settlements and withdrawals keeps every transaction balanced,
        /// escrow = paid − refunded − settled, never refunds from escrow more than was paid, and never refunds
        /// more than the items' prices in all.
        #[test]
        fn escrow_and_refunds_stay_consistent(items in 1i64..5, deposit in 0i64..2_000, fund in 1i64..3_000, ops in proptest::collection::vec(op(), 0..30)) {
            let (order, shop, buyer) = (OrderId(1), ShopId(1), UserId(1));
            let price = m(990);
            let paid = price.fen() * items;
            let mut b = Balances::default();
            b.apply(&ledger::top_up(buyer, m(paid)).unwrap()).unwrap();
            b.apply(&ledger::pay_from_wallet(buyer, order, m(paid)).unwrap()).unwrap();
            b.apply(&LedgerTx::transfer(TxKind::FundContribution, Account::GatewayClearing, Account::CompensationFund, m(fund)).unwrap()).unwrap();
            if deposit > 0 {
                b.apply(&LedgerTx::transfer(TxKind::Deposit, Account::GatewayClearing, Account::MerchantDeposit(shop), m(deposit)).unwrap()).unwrap();
            }
            let (mut refunded_escrow, mut settled, mut refunded_total, mut refunds) = (0i64, 0i64, 0i64, 0i64);
            for o in ops {
                match o {
                    Op::ClaimRefund if refunds < items && b.get(Account::Escrow(order)) >= price => {
                        b.apply(&ledger::refund_to_wallet(order, buyer, price).unwrap()).unwrap();
                        refunded_escrow += price.fen();
                        refunded_total += price.fen();
                        refunds += 1;
                    }
                    Op::DisputeRefund(fen) if refunds < items => {
                        let amount = m(fen.min(price.fen()));
                        let fund = fund_cash(b.get(Account::CompensationFund), [b.get(Account::FundReceivable(shop))]);
                        let s = Sources { escrow: b.get(Account::Escrow(order)), available: b.get(Account::MerchantAvailable(shop)), deposit: b.get(Account::MerchantDeposit(shop)), fund };
                        if let Ok(p) = plan(amount, s) {
                            b.apply(&payout(&p, order, shop, Account::BuyerWallet(buyer)).unwrap()).unwrap();
                            refunded_escrow += p.from_escrow.fen();
                            refunded_total += amount.fen();
                            refunds += 1;
                        }
                    }
                    Op::Settle => {
                        let held = b.get(Account::Escrow(order));
                        if held.is_positive() {
                            b.apply(&ledger::settle(order, shop, held, ledger::fee(held, 300)).unwrap()).unwrap();
                            settled += held.fen();
                        }
                    }
                    Op::Withdraw(fen) => {
                        let amount = m(fen.min(b.get(Account::MerchantAvailable(shop)).fen()));
                        if amount.is_positive() {
                            b.apply(&LedgerTx::transfer(TxKind::Withdrawal, Account::MerchantAvailable(shop), Account::GatewayClearing, amount).unwrap()).unwrap();
                        }
                    }
                    _ => {}
                }
                prop_assert_eq!(b.total(), Some(Money::ZERO));
                prop_assert_eq!(b.get(Account::Escrow(order)).fen(), paid - refunded_escrow - settled);
                prop_assert!(refunded_escrow <= paid);
                prop_assert!(refunded_total <= paid, "never more than the items' prices");
                let fund = fund_cash(b.get(Account::CompensationFund), [b.get(Account::FundReceivable(shop))]);
                prop_assert!(fund.fen() >= 0, "the fund never advances money it does not have");
                for (a, v) in b.iter() {
                    prop_assert!(v.fen() >= 0 || a.may_go_negative(), "{:?} negative", a);
                }
            }
        }
    }
}
