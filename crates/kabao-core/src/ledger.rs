//! The double-entry ledger's rules: accounts, postings, and the transactions money may move in.
//! Every movement is one transaction whose postings sum to zero; accounts that must never go negative say so.
//! The store persists what these functions decide, in the same database transaction as the business change.

use crate::i18n::{Lang, Localized};
use crate::ids::{ShopId, UserId};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An order's internal id (order numbers shown to people are random; see `order::OrderNo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub i64);

/// A ledger account. Balances are credits minus debits: money *in* an account is a positive balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "owner", rename_all = "snake_case")]
pub enum Account {
    /// A buyer's prepaid balance.
    BuyerWallet(UserId),
    /// Money held for one order until its claim window closes.
    Escrow(OrderId),
    /// What a shop has earned and may withdraw.
    MerchantAvailable(ShopId),
    /// A shop's security deposit (保证金).
    MerchantDeposit(ShopId),
    /// The dispute compensation fund (纠纷赔付基金).
    CompensationFund,
    /// What a shop owes the fund after the fund paid for it. Its balance is the debt, so it may go negative.
    FundReceivable(ShopId),
    /// Warranty insurance premiums, from which claims are paid.
    InsurancePool,
    /// What a shop asked to withdraw and the platform has not paid out or refused yet. A request moves the
    /// money here from [`Account::MerchantAvailable`] in the request's own transaction, so money asked for once
    /// cannot be asked for again; the payout or the refusal empties it.
    WithdrawalPending(ShopId),
    /// The platform's fees.
    PlatformRevenue,
    /// Money crossing the platform's edge (gateways in, withdrawals out). Negative = money received from outside.
    GatewayClearing,
    /// What a shop owes the insurance pool after the pool paid one of its claims and the order's escrow could not
    /// give the money back. Its balance is the debt, so it may go negative; settlement repays it.
    InsuranceReceivable(ShopId),
    /// Refunds on their way back through the gateway the buyer paid with: a remedy posts here (with a queued
    /// gateway refund, in the same transaction) and the refund job moves it on — to [`Account::GatewayClearing`]
    /// once the gateway paid, or to the buyer's wallet when it refused. Its balance equals the open gateway
    /// refunds (`kabao ledger verify` checks it).
    RefundsInFlight,
}

impl Account {
    /// Whether a transaction may leave this account below zero. Only the edge and the fund's receivables may.
    pub fn may_go_negative(self) -> bool {
        matches!(self, Account::GatewayClearing | Account::FundReceivable(_) | Account::InsuranceReceivable(_))
    }

    /// A stable text key for storage, e.g. `"wallet:12"`, `"escrow:345"`, `"platform_revenue"`.
    pub fn key(self) -> String {
        match self {
            Account::BuyerWallet(u) => format!("wallet:{}", u.0),
            Account::Escrow(o) => format!("escrow:{}", o.0),
            Account::MerchantAvailable(s) => format!("merchant_available:{}", s.0),
            Account::MerchantDeposit(s) => format!("merchant_deposit:{}", s.0),
            Account::CompensationFund => "compensation_fund".into(),
            Account::FundReceivable(s) => format!("fund_receivable:{}", s.0),
            Account::WithdrawalPending(s) => format!("withdrawal_pending:{}", s.0),
            Account::InsurancePool => "insurance_pool".into(),
            Account::PlatformRevenue => "platform_revenue".into(),
            Account::GatewayClearing => "gateway_clearing".into(),
            Account::InsuranceReceivable(s) => format!("insurance_receivable:{}", s.0),
            Account::RefundsInFlight => "gateway_refunds_in_flight".into(),
        }
    }

    /// Parses [`Account::key`] back.
    pub fn parse_key(key: &str) -> Option<Account> {
        let (kind, id) = match key.split_once(':') {
            Some((k, id)) => (k, id.parse::<i64>().ok()),
            None => (key, None),
        };
        Some(match (kind, id) {
            ("wallet", Some(id)) => Account::BuyerWallet(UserId(id)),
            ("escrow", Some(id)) => Account::Escrow(OrderId(id)),
            ("merchant_available", Some(id)) => Account::MerchantAvailable(ShopId(id)),
            ("merchant_deposit", Some(id)) => Account::MerchantDeposit(ShopId(id)),
            ("fund_receivable", Some(id)) => Account::FundReceivable(ShopId(id)),
            ("withdrawal_pending", Some(id)) => Account::WithdrawalPending(ShopId(id)),
            ("compensation_fund", None) => Account::CompensationFund,
            ("insurance_pool", None) => Account::InsurancePool,
            ("platform_revenue", None) => Account::PlatformRevenue,
            ("gateway_clearing", None) => Account::GatewayClearing,
            ("insurance_receivable", Some(id)) => Account::InsuranceReceivable(ShopId(id)),
            ("gateway_refunds_in_flight", None) => Account::RefundsInFlight,
            _ => return None,
        })
    }
}

/// One line of a transaction: `amount` is added to the account's balance (negative = taken from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: Money,
}

/// Why money moves; stored with the transaction and shown on statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    TopUp,
    Payment,
    Settlement,
    Refund,
    /// A withdrawal paid out: the requested amount leaves `WithdrawalPending`, the net to the payee through the
    /// gateway edge, the fee to platform revenue.
    Withdrawal,
    /// A withdrawal requested: available → pending.
    WithdrawalRequest,
    /// A withdrawal refused: pending → available.
    WithdrawalReturn,
    /// A shop pays its security deposit (保证金).
    Deposit,
    /// Money paid into the compensation fund (a member's fee, the platform's contribution).
    FundContribution,
    /// A shop paying back what the fund advanced for it.
    FundRepayment,
    /// A warranty insurance premium paid with its order, into the insurance pool.
    InsurancePremium,
    /// A premium returned from the pool with its order's full refund (never delivered).
    InsuranceRefund,
    /// A claim paid by warranty insurance: pool → the buyer (by the one refund rule).
    InsurancePayout,
    /// The pool getting a payout back from the merchant: from the order's escrow, as a receivable on the shop,
    /// or the receivable repaid from the shop's available balance at settlement.
    InsuranceRecovery,
    /// A gateway paid a refund back to the payer: in flight → the gateway edge.
    GatewayRefund,
    /// A gateway refused (or cannot make) a refund: in flight → the buyer's wallet, the reason recorded.
    RefundToWallet,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::TopUp => "top_up",
            TxKind::Payment => "payment",
            TxKind::Settlement => "settlement",
            TxKind::Refund => "refund",
            TxKind::Withdrawal => "withdrawal",
            TxKind::WithdrawalRequest => "withdrawal_request",
            TxKind::WithdrawalReturn => "withdrawal_return",
            TxKind::Deposit => "deposit",
            TxKind::FundContribution => "fund_contribution",
            TxKind::FundRepayment => "fund_repayment",
            TxKind::InsurancePremium => "insurance_premium",
            TxKind::InsuranceRefund => "insurance_refund",
            TxKind::InsurancePayout => "insurance_payout",
            TxKind::InsuranceRecovery => "insurance_recovery",
            TxKind::GatewayRefund => "gateway_refund",
            TxKind::RefundToWallet => "refund_to_wallet",
        }
    }
    pub fn parse(s: &str) -> Option<TxKind> {
        [
            TxKind::TopUp,
            TxKind::Payment,
            TxKind::Settlement,
            TxKind::Refund,
            TxKind::Withdrawal,
            TxKind::WithdrawalRequest,
            TxKind::WithdrawalReturn,
            TxKind::Deposit,
            TxKind::FundContribution,
            TxKind::FundRepayment,
            TxKind::InsurancePremium,
            TxKind::InsuranceRefund,
            TxKind::InsurancePayout,
            TxKind::InsuranceRecovery,
            TxKind::GatewayRefund,
            TxKind::RefundToWallet,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("postings sum to {0:?}, not zero")]
    Unbalanced(Money),
    #[error("a transaction needs at least two non-zero postings")]
    TooFewPostings,
    #[error("amount overflow")]
    Overflow,
    #[error("account {0} would go negative")]
    WouldGoNegative(String),
    #[error("amount must be positive")]
    NonPositiveAmount,
}

impl Localized for LedgerError {
    fn code(&self) -> &'static str {
        match self {
            LedgerError::WouldGoNegative(_) => "ledger.insufficient_balance",
            LedgerError::NonPositiveAmount => "ledger.amount_invalid",
            _ => "ledger.invalid",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            LedgerError::WouldGoNegative(_) => lang.pick("余额不足", "Insufficient balance").into(),
            LedgerError::NonPositiveAmount => lang.pick("金额必须大于零", "The amount must be positive").into(),
            _ => lang.pick("账务处理失败（内部错误）", "Ledger error (internal)").into(),
        }
    }
}

/// A balanced set of postings. It cannot be built unbalanced: a transaction that does not sum to zero is a bug,
/// so it is refused here and the store never sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTx {
    kind: TxKind,
    postings: Vec<Posting>,
}

impl LedgerTx {
    pub fn new(kind: TxKind, postings: Vec<Posting>) -> Result<LedgerTx, LedgerError> {
        let postings: Vec<Posting> = postings.into_iter().filter(|p| p.amount != Money::ZERO).collect();
        if postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut sum = Money::ZERO;
        for p in &postings {
            sum = sum.checked_add(p.amount).ok_or(LedgerError::Overflow)?;
        }
        if sum != Money::ZERO {
            debug_assert!(false, "unbalanced ledger transaction: {postings:?}");
            return Err(LedgerError::Unbalanced(sum));
        }
        Ok(LedgerTx { kind, postings })
    }

    pub fn kind(&self) -> TxKind {
        self.kind
    }
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Moves `amount` from one account to another.
    pub fn transfer(kind: TxKind, from: Account, to: Account, amount: Money) -> Result<LedgerTx, LedgerError> {
        if !amount.is_positive() {
            return Err(LedgerError::NonPositiveAmount);
        }
        let neg = Money::ZERO.checked_sub(amount).ok_or(LedgerError::Overflow)?;
        LedgerTx::new(kind, vec![Posting { account: from, amount: neg }, Posting { account: to, amount }])
    }

    /// Checks the transaction against current balances: no non-negative account may end below zero.
    /// `balance` answers the current balance of any account.
    pub fn check(&self, balance: impl Fn(Account) -> Money) -> Result<(), LedgerError> {
        let mut delta: BTreeMap<Account, Money> = BTreeMap::new();
        for p in &self.postings {
            let d = delta.entry(p.account).or_insert(Money::ZERO);
            *d = d.checked_add(p.amount).ok_or(LedgerError::Overflow)?;
        }
        for (account, d) in delta {
            let after = balance(account).checked_add(d).ok_or(LedgerError::Overflow)?;
            if after.fen() < 0 && !account.may_go_negative() {
                return Err(LedgerError::WouldGoNegative(account.key()));
            }
        }
        Ok(())
    }
}

/// A gateway paid a refund back: the money leaves the platform through the edge.
pub fn gateway_refund_paid(amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::GatewayRefund, Account::RefundsInFlight, Account::GatewayClearing, amount)
}

/// A gateway refund refused or impossible: the money goes to the buyer's wallet instead.
pub fn gateway_refund_to_wallet(buyer: UserId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::RefundToWallet, Account::RefundsInFlight, Account::BuyerWallet(buyer), amount)
}

/// Money arriving from a gateway into a buyer's wallet.
pub fn top_up(buyer: UserId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::TopUp, Account::GatewayClearing, Account::BuyerWallet(buyer), amount)
}

/// An order paid from the buyer's wallet into its escrow.
pub fn pay_from_wallet(buyer: UserId, order: OrderId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::Payment, Account::BuyerWallet(buyer), Account::Escrow(order), amount)
}

/// An order paid directly through a gateway into its escrow.
pub fn pay_direct(order: OrderId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::Payment, Account::GatewayClearing, Account::Escrow(order), amount)
}

/// A warranty insurance premium paid from the buyer's wallet into the pool.
pub fn premium_from_wallet(buyer: UserId, premium: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::InsurancePremium, Account::BuyerWallet(buyer), Account::InsurancePool, premium)
}

/// A warranty insurance premium paid through a gateway with its order, into the pool.
pub fn premium_direct(premium: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::InsurancePremium, Account::GatewayClearing, Account::InsurancePool, premium)
}

/// Escrow released: the shop gets `amount − fee`, the platform the fee.
pub fn settle(order: OrderId, shop: ShopId, amount: Money, fee: Money) -> Result<LedgerTx, LedgerError> {
    if !amount.is_positive() || fee.fen() < 0 || fee > amount {
        return Err(LedgerError::NonPositiveAmount);
    }
    let to_shop = amount.checked_sub(fee).ok_or(LedgerError::Overflow)?;
    LedgerTx::new(
        TxKind::Settlement,
        vec![
            Posting {
                account: Account::Escrow(order),
                amount: Money::ZERO.checked_sub(amount).ok_or(LedgerError::Overflow)?,
            },
            Posting { account: Account::MerchantAvailable(shop), amount: to_shop },
            Posting { account: Account::PlatformRevenue, amount: fee },
        ],
    )
}

/// Escrow released for an order a coupon discounted: the same money moves as in [`settle`], but the shop's side
/// is written as two lines so the ledger shows the coupon as the merchant's cost: `+(held + discount − fee)`
/// (what the goods sold for, less the fee) and `−discount` (the coupon). The shop's net is `held − fee`, exactly
/// as without the coupon; the fee is on what the buyer paid. A zero discount is [`settle`].
pub fn settle_with_discount(
    order: OrderId,
    shop: ShopId,
    amount: Money,
    fee: Money,
    discount: Money,
) -> Result<LedgerTx, LedgerError> {
    if discount.fen() < 0 {
        return Err(LedgerError::NonPositiveAmount);
    }
    if discount == Money::ZERO {
        return settle(order, shop, amount, fee);
    }
    if !amount.is_positive() || fee.fen() < 0 || fee > amount {
        return Err(LedgerError::NonPositiveAmount);
    }
    let gross = amount.checked_add(discount).and_then(|g| g.checked_sub(fee)).ok_or(LedgerError::Overflow)?;
    LedgerTx::new(
        TxKind::Settlement,
        vec![
            Posting {
                account: Account::Escrow(order),
                amount: Money::ZERO.checked_sub(amount).ok_or(LedgerError::Overflow)?,
            },
            Posting { account: Account::MerchantAvailable(shop), amount: gross },
            Posting {
                account: Account::MerchantAvailable(shop),
                amount: Money::ZERO.checked_sub(discount).ok_or(LedgerError::Overflow)?,
            },
            Posting { account: Account::PlatformRevenue, amount: fee },
        ],
    )
}

/// Escrow returned to the buyer's wallet.
pub fn refund_to_wallet(order: OrderId, buyer: UserId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(TxKind::Refund, Account::Escrow(order), Account::BuyerWallet(buyer), amount)
}

/// The platform fee on a settlement, in basis points of the amount, rounded down to the 分.
pub fn fee(amount: Money, fee_bps: i64) -> Money {
    Money::from_fen(amount.fen().saturating_mul(fee_bps.clamp(0, 10_000)) / 10_000)
}

/// The fee on a withdrawal: `bps` basis points of the amount (rounded down), at least `min`. Computed once at
/// request time and kept on the request, so a later change of the setting does not change what was agreed.
pub fn withdrawal_fee(amount: Money, bps: i64, min: Money) -> Money {
    fee(amount, bps).max(min.max(Money::ZERO))
}

/// A withdrawal requested: the amount leaves the shop's available balance for its pending account. Refused
/// (`WouldGoNegative`) if the available balance is short, which is what makes a second request for the same
/// money fail.
pub fn request_withdrawal(shop: ShopId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(
        TxKind::WithdrawalRequest,
        Account::MerchantAvailable(shop),
        Account::WithdrawalPending(shop),
        amount,
    )
}

/// A withdrawal paid out: `amount − fee` leaves the platform to the payee, `fee` goes to platform revenue.
pub fn pay_withdrawal(shop: ShopId, amount: Money, fee: Money) -> Result<LedgerTx, LedgerError> {
    if !amount.is_positive() || fee.fen() < 0 || fee >= amount {
        return Err(LedgerError::NonPositiveAmount);
    }
    let net = amount.checked_sub(fee).ok_or(LedgerError::Overflow)?;
    LedgerTx::new(
        TxKind::Withdrawal,
        vec![
            Posting {
                account: Account::WithdrawalPending(shop),
                amount: Money::ZERO.checked_sub(amount).ok_or(LedgerError::Overflow)?,
            },
            Posting { account: Account::GatewayClearing, amount: net },
            Posting { account: Account::PlatformRevenue, amount: fee },
        ],
    )
}

/// A withdrawal refused: the amount returns to the shop's available balance.
pub fn return_withdrawal(shop: ShopId, amount: Money) -> Result<LedgerTx, LedgerError> {
    LedgerTx::transfer(
        TxKind::WithdrawalReturn,
        Account::WithdrawalPending(shop),
        Account::MerchantAvailable(shop),
        amount,
    )
}

/// Balances computed from transactions, as `kabao ledger verify` recomputes them.
#[derive(Debug, Default, Clone)]
pub struct Balances(BTreeMap<Account, Money>);

impl Balances {
    pub fn get(&self, a: Account) -> Money {
        self.0.get(&a).copied().unwrap_or(Money::ZERO)
    }
    /// Checks and applies a transaction.
    pub fn apply(&mut self, tx: &LedgerTx) -> Result<(), LedgerError> {
        tx.check(|a| self.get(a))?;
        for p in tx.postings() {
            let b = self.0.entry(p.account).or_insert(Money::ZERO);
            *b = b.checked_add(p.amount).ok_or(LedgerError::Overflow)?;
        }
        Ok(())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Account, &Money)> {
        self.0.iter()
    }
    /// The sum of all balances: zero in a consistent ledger.
    pub fn total(&self) -> Option<Money> {
        self.0.values().try_fold(Money::ZERO, |acc, m| acc.checked_add(*m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BUYER: UserId = UserId(1);
    const SHOP: ShopId = ShopId(7);

    #[test]
    fn a_coupon_settles_net_with_the_discount_as_the_merchants_cost() {
        let t =
            settle_with_discount(OrderId(3), SHOP, Money::from_fen(1500), Money::from_fen(30), Money::from_fen(500))
                .unwrap();
        let lines: Vec<(Account, i64)> = t.postings().iter().map(|p| (p.account, p.amount.fen())).collect();
        assert_eq!(
            lines,
            vec![
                (Account::Escrow(OrderId(3)), -1500),
                (Account::MerchantAvailable(SHOP), 1970),
                (Account::MerchantAvailable(SHOP), -500),
                (Account::PlatformRevenue, 30),
            ]
        );
        let mut b = Balances::default();
        b.apply(&pay_direct(OrderId(3), Money::from_fen(1500)).unwrap()).unwrap();
        b.apply(&t).unwrap();
        assert_eq!(b.get(Account::MerchantAvailable(SHOP)), Money::from_fen(1470));
        assert_eq!(b.get(Account::Escrow(OrderId(3))), Money::ZERO);
        assert_eq!(
            settle_with_discount(OrderId(3), SHOP, Money::from_fen(100), Money::from_fen(2), Money::ZERO),
            settle(OrderId(3), SHOP, Money::from_fen(100), Money::from_fen(2))
        );
    }

    #[test]
    fn unbalanced_transactions_cannot_be_built() {
        let p = |a, f| Posting { account: a, amount: Money::from_fen(f) };
        let r = std::panic::catch_unwind(|| {
            LedgerTx::new(TxKind::Payment, vec![p(Account::GatewayClearing, -100), p(Account::Escrow(OrderId(1)), 99)])
        });
        // Debug builds panic (a bug must be loud); release builds refuse.
        assert!(r.is_err() || matches!(r, Ok(Err(LedgerError::Unbalanced(_)))));
        assert_eq!(
            LedgerTx::new(TxKind::Payment, vec![p(Account::GatewayClearing, 0)]),
            Err(LedgerError::TooFewPostings)
        );
    }

    #[test]
    fn a_wallet_cannot_go_negative_but_the_gateway_edge_can() {
        let mut b = Balances::default();
        assert!(matches!(
            b.apply(&pay_from_wallet(BUYER, OrderId(1), Money::from_fen(1)).unwrap()),
            Err(LedgerError::WouldGoNegative(_))
        ));
        b.apply(&top_up(BUYER, Money::from_fen(500)).unwrap()).unwrap();
        assert_eq!(b.get(Account::GatewayClearing), Money::from_fen(-500));
        b.apply(&pay_from_wallet(BUYER, OrderId(1), Money::from_fen(500)).unwrap()).unwrap();
        assert_eq!(b.get(Account::BuyerWallet(BUYER)), Money::ZERO);
        assert_eq!(b.total(), Some(Money::ZERO));
    }

    #[test]
    fn settlement_splits_fee_and_empties_escrow() {
        let mut b = Balances::default();
        let order = OrderId(3);
        b.apply(&pay_direct(order, Money::from_fen(1000)).unwrap()).unwrap();
        b.apply(&settle(order, SHOP, Money::from_fen(1000), fee(Money::from_fen(1000), 250)).unwrap()).unwrap();
        assert_eq!(b.get(Account::Escrow(order)), Money::ZERO);
        assert_eq!(b.get(Account::MerchantAvailable(SHOP)), Money::from_fen(975));
        assert_eq!(b.get(Account::PlatformRevenue), Money::from_fen(25));
    }

    #[test]
    fn account_keys_round_trip() {
        for a in [
            Account::BuyerWallet(BUYER),
            Account::Escrow(OrderId(9)),
            Account::MerchantAvailable(SHOP),
            Account::MerchantDeposit(SHOP),
            Account::InsuranceReceivable(SHOP),
            Account::CompensationFund,
            Account::FundReceivable(SHOP),
            Account::WithdrawalPending(SHOP),
            Account::InsurancePool,
            Account::PlatformRevenue,
            Account::GatewayClearing,
        ] {
            assert_eq!(Account::parse_key(&a.key()), Some(a));
        }
        assert_eq!(Account::parse_key("wallet:x"), None);
    }

    #[test]
    fn a_withdrawal_holds_the_money_until_paid_with_its_fee_or_returned() {
        let mut b = Balances::default();
        let order = OrderId(4);
        b.apply(&pay_direct(order, Money::from_fen(1000)).unwrap()).unwrap();
        b.apply(&settle(order, SHOP, Money::from_fen(1000), Money::ZERO).unwrap()).unwrap();
        b.apply(&request_withdrawal(SHOP, Money::from_fen(1000)).unwrap()).unwrap();
        assert!(
            matches!(
                b.apply(&request_withdrawal(SHOP, Money::from_fen(1)).unwrap()),
                Err(LedgerError::WouldGoNegative(_))
            ),
            "money asked for once cannot be asked for again"
        );
        let fee = withdrawal_fee(Money::from_fen(1000), 100, Money::from_fen(200));
        assert_eq!(fee, Money::from_fen(200), "the minimum fee applies");
        b.apply(&pay_withdrawal(SHOP, Money::from_fen(1000), fee).unwrap()).unwrap();
        assert_eq!(b.get(Account::WithdrawalPending(SHOP)), Money::ZERO);
        assert_eq!(b.get(Account::PlatformRevenue), Money::from_fen(200));
        assert_eq!(b.get(Account::GatewayClearing), Money::from_fen(-1000 + 800));
        assert!(pay_withdrawal(SHOP, Money::from_fen(100), Money::from_fen(100)).is_err(), "nothing left to pay");
        assert_eq!(withdrawal_fee(Money::from_fen(10_000), 100, Money::ZERO), Money::from_fen(100));

        b.apply(&pay_direct(OrderId(5), Money::from_fen(500)).unwrap()).unwrap();
        b.apply(&settle(OrderId(5), SHOP, Money::from_fen(500), Money::ZERO).unwrap()).unwrap();
        b.apply(&request_withdrawal(SHOP, Money::from_fen(500)).unwrap()).unwrap();
        b.apply(&return_withdrawal(SHOP, Money::from_fen(500)).unwrap()).unwrap();
        assert_eq!(b.get(Account::MerchantAvailable(SHOP)), Money::from_fen(500), "a refusal gives it back");
        assert_eq!(b.total(), Some(Money::ZERO));
    }

    #[derive(Debug, Clone)]
    enum Op {
        TopUp(i64),
        PayWallet(i64),
        PayDirect(i64),
        Refund(usize, i64),
        Settle(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1i64..10_000).prop_map(Op::TopUp),
            (1i64..10_000).prop_map(Op::PayWallet),
            (1i64..10_000).prop_map(Op::PayDirect),
            (0usize..8, 1i64..10_000).prop_map(|(o, a)| Op::Refund(o, a)),
            (0usize..8).prop_map(Op::Settle),
        ]
    }

    proptest! {
        /// Any sequence of payments, refunds and settlements keeps every transaction balanced, no guarded
        /// account negative, and each order's escrow equal to paid − refunded − settled.
        #[test]
        fn escrow_always_equals_paid_minus_refunded_minus_settled(ops in proptest::collection::vec(op(), 1..60)) {
            let mut b = Balances::default();
            let mut orders: Vec<(i64, i64, i64)> = Vec::new(); // paid, refunded, settled
            for op in ops {
                let order = |i: usize| OrderId(i as i64 + 1);
                let tx = match op {
                    Op::TopUp(a) => top_up(BUYER, Money::from_fen(a)),
                    Op::PayWallet(a) => pay_from_wallet(BUYER, order(orders.len()), Money::from_fen(a)),
                    Op::PayDirect(a) => pay_direct(order(orders.len()), Money::from_fen(a)),
                    Op::Refund(i, a) => refund_to_wallet(order(i), BUYER, Money::from_fen(a)),
                    Op::Settle(i) => {
                        let held = b.get(Account::Escrow(order(i)));
                        if !held.is_positive() { continue; }
                        settle(order(i), SHOP, held, fee(held, 300))
                    }
                };
                let tx = tx.unwrap();
                if b.apply(&tx).is_ok() {
                    match op {
                        Op::PayWallet(a) | Op::PayDirect(a) => orders.push((a, 0, 0)),
                        Op::Refund(i, a) => if let Some(o) = orders.get_mut(i) { o.1 += a },
                        Op::Settle(i) => if let Some(o) = orders.get_mut(i) { o.2 = o.0 - o.1 },
                        Op::TopUp(_) => {}
                    }
                }
                prop_assert_eq!(b.total(), Some(Money::ZERO));
                for (a, m) in b.iter() {
                    prop_assert!(a.may_go_negative() || m.fen() >= 0, "{:?} = {:?}", a, m);
                }
                for (i, (paid, refunded, settled)) in orders.iter().enumerate() {
                    prop_assert_eq!(b.get(Account::Escrow(order(i))).fen(), paid - refunded - settled);
                    prop_assert!(refunded <= paid);
                }
            }
        }
    }
}
