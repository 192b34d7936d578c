//! The buyer's wallet (余额): pays in the order's own transaction, so there is nothing to start at a gateway,
//! no notification and no trade to ask about. A refund to the wallet is a ledger entry, not a gateway call.

use super::{Checkout, Gateway, GatewayError, PayRequest};
use kabao_core::Lang;

pub const WALLET: &str = "wallet";

pub struct Wallet;

#[async_trait::async_trait]
impl Gateway for Wallet {
    fn id(&self) -> &'static str {
        WALLET
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("余额支付", "Wallet")
    }
    async fn create(&self, _request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Ok(Checkout::Wallet)
    }
}
