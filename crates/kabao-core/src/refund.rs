//! Where a refund goes — one rule for every remedy that gives money back (an order refunded whole, a claim's
//! item, money that arrived for an order that could no longer be paid, an arbiter's ruling, and any later one).
//!
//! The rule: a registered buyer is refunded to their wallet, however they paid; a guest has no wallet, so the
//! money goes back out through the gateway (the gateway edge account), where it came from.

use crate::dispute::{self, Plan};
use crate::ledger::{Account, LedgerError, LedgerTx, OrderId, TxKind};
use crate::{Money, ShopId, UserId};

/// Where a refund goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTo {
    /// The registered buyer's wallet.
    Wallet(UserId),
    /// Back through the gateway a guest paid with.
    Gateway,
}

impl RefundTo {
    /// The rule, for an order whose buyer is `buyer` (`None` for a guest).
    pub fn of(buyer: Option<UserId>) -> RefundTo {
        match buyer {
            Some(buyer) => RefundTo::Wallet(buyer),
            None => RefundTo::Gateway,
        }
    }

    /// The ledger account the money is posted to.
    pub fn account(self) -> Account {
        match self {
            RefundTo::Wallet(buyer) => Account::BuyerWallet(buyer),
            RefundTo::Gateway => Account::GatewayClearing,
        }
    }

    /// As the order's chain records it: `"wallet"` or `"gateway"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundTo::Wallet(_) => "wallet",
            RefundTo::Gateway => "gateway",
        }
    }
}

/// A refund decided: where it goes, and the balanced transaction that moves it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub to: RefundTo,
    pub tx: LedgerTx,
}

/// `amount` from the order's escrow back to its buyer ([`RefundTo::of`]). The caller checks that escrow holds it
/// (the store refuses a transaction that would leave escrow negative).
pub fn from_escrow(order: OrderId, buyer: Option<UserId>, amount: Money) -> Result<Refund, LedgerError> {
    let to = RefundTo::of(buyer);
    let tx = LedgerTx::transfer(TxKind::Refund, Account::Escrow(order), to.account(), amount)?;
    Ok(Refund { to, tx })
}

/// A warranty insurance premium returned from the pool to the order's buyer, by the same rule as the escrow.
pub fn premium_back(buyer: Option<UserId>, premium: Money) -> Result<Refund, LedgerError> {
    let to = RefundTo::of(buyer);
    let tx = LedgerTx::transfer(TxKind::InsuranceRefund, Account::InsurancePool, to.account(), premium)?;
    Ok(Refund { to, tx })
}

/// A claim paid by warranty insurance: the item's price from the pool to the order's buyer, by the same rule as
/// the escrow (a wallet buyer's wallet; a guest's gateway).
pub fn insurance_payout(buyer: Option<UserId>, amount: Money) -> Result<Refund, LedgerError> {
    let to = RefundTo::of(buyer);
    let tx = LedgerTx::transfer(TxKind::InsurancePayout, Account::InsurancePool, to.account(), amount)?;
    Ok(Refund { to, tx })
}

/// An arbiter's refund paid from the sources in `plan` (see [`dispute::plan`]) back to the order's buyer.
pub fn from_plan(plan: &Plan, order: OrderId, shop: ShopId, buyer: Option<UserId>) -> Result<Refund, LedgerError> {
    let to = RefundTo::of(buyer);
    let tx = dispute::payout(plan, order, shop, to.account())?;
    Ok(Refund { to, tx })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{self, Balances, Posting};
    use proptest::prelude::*;

    fn buyer() -> impl Strategy<Value = Option<UserId>> {
        proptest::option::of((1..1_000_000i64).prop_map(UserId))
    }

    fn sum(tx: &LedgerTx) -> i64 {
        tx.postings().iter().map(|p| p.amount.fen()).sum()
    }

    /// What each remedy posted before the rule was written once (orders, claims, late payments): the same
    /// transaction, byte for byte.
    fn as_written_before(order: OrderId, buyer: Option<UserId>, amount: Money) -> Result<LedgerTx, LedgerError> {
        match buyer {
            Some(buyer) => ledger::refund_to_wallet(order, buyer, amount),
            None => LedgerTx::transfer(TxKind::Refund, Account::Escrow(order), Account::GatewayClearing, amount),
        }
    }

    proptest! {
        #[test]
        fn a_refund_from_escrow_balances_and_goes_to_the_wallet_or_back_to_the_gateway(
            order in 1..1_000_000i64, buyer in buyer(), fen in 1..1_000_000_000i64, extra in 0..1_000i64,
        ) {
            let (order, amount) = (OrderId(order), Money::from_fen(fen));
            let r = from_escrow(order, buyer, amount).unwrap();
            prop_assert_eq!(sum(&r.tx), 0);
            prop_assert_eq!(r.tx.kind(), TxKind::Refund);
            let to = match buyer {
                Some(b) => Account::BuyerWallet(b),
                None => Account::GatewayClearing,
            };
            prop_assert_eq!(r.to.account(), to);
            prop_assert_eq!(r.to.as_str(), if buyer.is_some() { "wallet" } else { "gateway" });
            let taken = Posting { account: Account::Escrow(order), amount: Money::from_fen(-fen) };
            prop_assert_eq!(r.tx.postings(), &[taken, Posting { account: to, amount }][..]);
            prop_assert_eq!(&r.tx, &as_written_before(order, buyer, amount).unwrap());
            // On the books: escrow that holds the amount gives exactly it, and the buyer's side gets it.
            let mut books = Balances::default();
            books.apply(&ledger::pay_direct(order, Money::from_fen(fen + extra)).unwrap()).unwrap();
            books.apply(&r.tx).unwrap();
            prop_assert_eq!(books.get(Account::Escrow(order)).fen(), extra);
            if let Some(b) = buyer {
                prop_assert_eq!(books.get(Account::BuyerWallet(b)), amount);
            }
            prop_assert_eq!(books.total(), Some(Money::ZERO));
        }

        #[test]
        fn a_ruled_refund_balances_and_pays_the_whole_plan_to_the_same_place(
            order in 1..1_000i64,
            shop in 1..1_000i64,
            buyer in buyer(),
            parts in proptest::array::uniform4(0..100_000i64),
        ) {
            let plan = Plan {
                from_escrow: Money::from_fen(parts[0]),
                from_available: Money::from_fen(parts[1]),
                from_deposit: Money::from_fen(parts[2]),
                from_fund: Money::from_fen(parts[3]),
            };
            let (order, shop) = (OrderId(order), ShopId(shop));
            match from_plan(&plan, order, shop, buyer) {
                Ok(r) => {
                    prop_assert_eq!(sum(&r.tx), 0);
                    prop_assert_eq!(r.to, RefundTo::of(buyer));
                    let to_buyer = r.tx.postings().iter().filter(|p| p.account == r.to.account());
                    let paid: i64 = to_buyer.map(|p| p.amount.fen()).sum();
                    prop_assert_eq!(paid, plan.total().fen());
                    prop_assert_eq!(&r.tx, &dispute::payout(&plan, order, shop, r.to.account()).unwrap());
                }
                Err(e) => {
                    prop_assert_eq!(e, LedgerError::NonPositiveAmount);
                    prop_assert_eq!(plan.total(), Money::ZERO);
                }
            }
        }

        #[test]
        fn nothing_or_less_is_never_refunded(order in 1..1_000i64, buyer in buyer(), fen in -1_000i64..=0) {
            let refund = from_escrow(OrderId(order), buyer, Money::from_fen(fen));
            prop_assert_eq!(refund, Err(LedgerError::NonPositiveAmount));
        }
    }
}
