//! WeChat Pay (微信支付 API v3). Being built: see issue 20.

use super::{Checkout, Gateway, GatewayError, HttpPort, PayRequest};
use kabao_core::Lang;
use std::sync::Arc;

pub const WECHATPAY: &str = "wechatpay";

/// WeChat Pay settings (`[wechatpay]` in kabao.toml or `KABAO_WECHATPAY_*`).
#[derive(Clone)]
pub struct WechatPayConfig {
    pub mch_id: String,
    pub app_id: String,
    /// The merchant API certificate's serial number and private key (PEM).
    pub mch_serial_no: String,
    pub mch_private_key: String,
    /// The API v3 key (32 bytes) that encrypts notifications' `resource`.
    pub api_v3_key: String,
    /// WeChat Pay's platform public key (PEM) and its id (`PUB_KEY_ID_…`) or platform certificate serial.
    pub platform_public_key: String,
    pub platform_serial: String,
    /// `https://api.mch.weixin.qq.com` (or a test's).
    pub api_url: String,
    /// Our public base URL, for `notify_url`.
    pub public_url: String,
}

impl std::fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPayConfig").field("mch_id", &self.mch_id).field("api_url", &self.api_url).finish()
    }
}

pub struct WechatPay {
    #[allow(dead_code)]
    config: WechatPayConfig,
    #[allow(dead_code)]
    http: Arc<dyn HttpPort>,
}

impl WechatPay {
    pub fn new(config: WechatPayConfig, http: Arc<dyn HttpPort>) -> WechatPay {
        WechatPay { config, http }
    }
}

#[async_trait::async_trait]
impl Gateway for WechatPay {
    fn id(&self) -> &'static str {
        WECHATPAY
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("微信支付", "WeChat Pay")
    }
    async fn create(&self, _request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Err(GatewayError::Unsupported)
    }
}
