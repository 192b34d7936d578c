//! Alipay (支付宝开放平台, RSA2). Being built: see issue 20.

use super::{Checkout, Gateway, GatewayError, HttpPort, PayRequest};
use kabao_core::Lang;
use std::sync::Arc;

pub const ALIPAY: &str = "alipay";

/// Alipay settings (`[alipay]` in kabao.toml or `KABAO_ALIPAY_*`).
#[derive(Clone)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The application's private key (PKCS#1 or PKCS#8, PEM or bare base64).
    pub app_private_key: String,
    /// Alipay's public key (SPKI, PEM or bare base64).
    pub alipay_public_key: String,
    /// The gateway, `https://openapi.alipay.com/gateway.do` (the sandbox's, or a test's).
    pub gateway_url: String,
    /// Our public base URL, for `notify_url` and `return_url`.
    pub public_url: String,
}

impl std::fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayConfig").field("app_id", &self.app_id).field("gateway_url", &self.gateway_url).finish()
    }
}

pub struct Alipay {
    #[allow(dead_code)]
    config: AlipayConfig,
    #[allow(dead_code)]
    http: Arc<dyn HttpPort>,
}

impl Alipay {
    pub fn new(config: AlipayConfig, http: Arc<dyn HttpPort>) -> Alipay {
        Alipay { config, http }
    }
}

#[async_trait::async_trait]
impl Gateway for Alipay {
    fn id(&self) -> &'static str {
        ALIPAY
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("支付宝", "Alipay")
    }
    async fn create(&self, _request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Err(GatewayError::Unsupported)
    }
}
