//! Where a refund goes — one rule for every remedy that gives money back (an order refunded whole, a claim's
//! item, money that arrived for an order that could no longer be paid, an arbiter's ruling, and any later one).
//!
//! The rule: money goes back where it came from. A payment through a gateway that can refund is refunded through
//! it (queued as a gateway refund: [`Account::RefundsInFlight`] until the gateway confirms), unless the buyer
//! chose the wallet; a guest is always refunded through the gateway (a guest has no wallet). Everything else —
//! wallet payments, gateways without refunds (易支付), a buyer who prefers the wallet — goes to the wallet.

use crate::dispute::{self, Plan};
use crate::ledger::{Account, LedgerError, LedgerTx, OrderId, TxKind};
use crate::{Money, ShopId, UserId};

/// Where a refund goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTo {
    /// The registered buyer's wallet.
    Wallet(UserId),
    /// Back through the gateway the buyer paid with (queued; in flight until the gateway confirms).
    Gateway,
}

impl RefundTo {
    /// The rule, for an order whose buyer is `buyer` (`None` for a guest), paid through a gateway that can
    /// refund (`gateway_refunds`), by a buyer who may prefer the wallet.
    pub fn decide(buyer: Option<UserId>, gateway_refunds: bool, prefers_wallet: bool) -> RefundTo {
        match buyer {
            Some(buyer) if !gateway_refunds || prefers_wallet => RefundTo::Wallet(buyer),
            Some(_) | None => RefundTo::Gateway,
        }
    }

    /// The ledger account the money is posted to.
    pub fn account(self) -> Account {
        match self {
            RefundTo::Wallet(buyer) => Account::BuyerWallet(buyer),
            RefundTo::Gateway => Account::RefundsInFlight,
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

/// `amount` from the order's escrow back to its buyer, to `to` ([`RefundTo::decide`]). The caller checks that escrow
/// holds it (the store refuses a transaction that would leave escrow negative).
pub fn from_escrow(order: OrderId, to: RefundTo, amount: Money) -> Result<Refund, LedgerError> {
    let tx = LedgerTx::transfer(TxKind::Refund, Account::Escrow(order), to.account(), amount)?;
    Ok(Refund { to, tx })
}

/// A warranty insurance premium returned from the pool to the order's buyer, by the same rule as the escrow.
pub fn premium_back(to: RefundTo, premium: Money) -> Result<Refund, LedgerError> {
    let tx = LedgerTx::transfer(TxKind::InsuranceRefund, Account::InsurancePool, to.account(), premium)?;
    Ok(Refund { to, tx })
}

/// A claim paid by warranty insurance: the item's price from the pool to the order's buyer, by the same rule as
/// the escrow (a wallet buyer's wallet; a guest's gateway).
pub fn insurance_payout(to: RefundTo, amount: Money) -> Result<Refund, LedgerError> {
    let tx = LedgerTx::transfer(TxKind::InsurancePayout, Account::InsurancePool, to.account(), amount)?;
    Ok(Refund { to, tx })
}

/// An arbiter's refund paid from the sources in `plan` (see [`dispute::plan`]) back to the order's buyer.
pub fn from_plan(plan: &Plan, order: OrderId, shop: ShopId, to: RefundTo) -> Result<Refund, LedgerError> {
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

    #[test]
    fn money_goes_back_where_it_came_from_unless_the_buyer_chose_the_wallet() {
        let b = Some(UserId(7));
        assert_eq!(RefundTo::decide(b, true, false), RefundTo::Gateway);
        assert_eq!(RefundTo::decide(b, true, true), RefundTo::Wallet(UserId(7)));
        // Paid from the wallet, or through a gateway without refunds (易支付): the wallet.
        assert_eq!(RefundTo::decide(b, false, false), RefundTo::Wallet(UserId(7)));
        // A guest has no wallet: always the gateway, whatever it can do (the job hands it to the team if not).
        assert_eq!(RefundTo::decide(None, false, false), RefundTo::Gateway);
        assert_eq!(RefundTo::decide(None, true, true), RefundTo::Gateway);
        assert_eq!(RefundTo::Gateway.account(), Account::RefundsInFlight);
    }

    proptest! {
        #[test]
        fn a_refund_from_escrow_balances_and_goes_to_the_wallet_or_back_to_the_gateway(
            order in 1..1_000_000i64, buyer in buyer(), refunds in any::<bool>(), prefers in any::<bool>(),
            fen in 1..1_000_000_000i64, extra in 0..1_000i64,
        ) {
            let (order, amount) = (OrderId(order), Money::from_fen(fen));
            let to = RefundTo::decide(buyer, refunds, prefers);
            let r = from_escrow(order, to, amount).unwrap();
            prop_assert_eq!(sum(&r.tx), 0);
            prop_assert_eq!(r.tx.kind(), TxKind::Refund);
            let account = match (buyer, refunds && !prefers) {
                (Some(b), false) => Account::BuyerWallet(b),
                _ => Account::RefundsInFlight,
            };
            prop_assert_eq!(r.to.account(), account);
            let taken = Posting { account: Account::Escrow(order), amount: Money::from_fen(-fen) };
            prop_assert_eq!(r.tx.postings(), &[taken, Posting { account, amount }][..]);
            // On the books: escrow that holds the amount gives exactly it, and the buyer's side gets it; a gateway
            // refund then leaves through the edge or lands in the wallet, and in-flight is empty again.
            let mut books = Balances::default();
            books.apply(&ledger::pay_direct(order, Money::from_fen(fen + extra)).unwrap()).unwrap();
            books.apply(&r.tx).unwrap();
            prop_assert_eq!(books.get(Account::Escrow(order)).fen(), extra);
            prop_assert_eq!(books.get(account), amount);
            if account == Account::RefundsInFlight {
                let on = match buyer {
                    Some(b) if prefers => ledger::gateway_refund_to_wallet(b, amount).unwrap(),
                    _ => ledger::gateway_refund_paid(amount).unwrap(),
                };
                books.apply(&on).unwrap();
                prop_assert_eq!(books.get(Account::RefundsInFlight), Money::ZERO);
            }
            prop_assert_eq!(books.total(), Some(Money::ZERO));
        }

        #[test]
        fn a_ruled_refund_balances_and_pays_the_whole_plan_to_the_same_place(
            order in 1..1_000i64,
            shop in 1..1_000i64,
            buyer in buyer(),
            refunds in any::<bool>(),
            parts in proptest::array::uniform4(0..100_000i64),
        ) {
            let plan = Plan {
                from_escrow: Money::from_fen(parts[0]),
                from_available: Money::from_fen(parts[1]),
                from_deposit: Money::from_fen(parts[2]),
                from_fund: Money::from_fen(parts[3]),
            };
            let (order, shop) = (OrderId(order), ShopId(shop));
            let to = RefundTo::decide(buyer, refunds, false);
            match from_plan(&plan, order, shop, to) {
                Ok(r) => {
                    prop_assert_eq!(sum(&r.tx), 0);
                    prop_assert_eq!(r.to, to);
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
            let refund = from_escrow(OrderId(order), RefundTo::decide(buyer, false, false), Money::from_fen(fen));
            prop_assert_eq!(refund, Err(LedgerError::NonPositiveAmount));
        }
    }
}
