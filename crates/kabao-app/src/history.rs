//! What a buyer and a merchant look back on: 我的订单 and the wallet's movements page by page (keyset cursors,
//! so a page costs the same however long the history), and the merchant dashboard's figures over 7/30/90 days.

use crate::App;
use kabao_core::ledger::{Account, TxKind};
use kabao_core::order::OrderState;
use kabao_core::{Lang, Localized, Money, Timestamp};
use kabao_store::{china_day, Movement, Order, StoreError, TxMode, User};

/// Rows per page of 我的订单 and of the wallet history.
pub const PAGE_SIZE: i64 = 20;
/// The windows the dashboard offers, in days.
pub const DASHBOARD_DAYS: [i64; 3] = [7, 30, 90];
const DAY_MS: i64 = 86_400_000;
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

/// Why a history request was refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("unknown order state filter")]
    BadState,
    #[error("malformed page cursor")]
    BadCursor,
    #[error("the window must be 7, 30 or 90 days")]
    BadDays,
    #[error(transparent)]
    Shop(#[from] crate::shops::ShopError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for HistoryError {
    fn code(&self) -> &'static str {
        match self {
            HistoryError::BadState => "orders.state_invalid",
            HistoryError::BadCursor => "history.cursor_invalid",
            HistoryError::BadDays => "dashboard.days_invalid",
            HistoryError::Shop(e) => e.code(),
            HistoryError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            HistoryError::BadState => Some("state"),
            HistoryError::BadCursor => Some("cursor"),
            HistoryError::BadDays => Some("days"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            HistoryError::BadState => lang.pick("未知的订单状态筛选", "Unknown order state filter").into(),
            HistoryError::BadCursor => {
                lang.pick("翻页参数无效，请从第一页开始", "Invalid page cursor; start again").into()
            }
            HistoryError::BadDays => {
                lang.pick("统计区间只能是 7、30 或 90 天", "The window must be 7, 30 or 90 days").into()
            }
            HistoryError::Shop(e) => e.message(lang),
            HistoryError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// The state filter of 我的订单: empty means every state.
pub fn parse_state(s: Option<&str>) -> Result<Option<OrderState>, HistoryError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => OrderState::parse(s).map(Some).ok_or(HistoryError::BadState),
    }
}

fn parse_id_cursor(s: &str) -> Result<i64, HistoryError> {
    id_cursor(s).ok_or(HistoryError::BadCursor)
}

/// The id a keyset cursor names (the last row of the previous page), or `None` if it is not one.
pub(crate) fn id_cursor(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A keyset page read with one row more than `size`: the first `size` rows, and the next page's cursor (what
/// `cursor` writes of the last kept row, usually its id) when the extra row shows there is more.
pub(crate) fn keyset_page<T>(mut rows: Vec<T>, size: i64, cursor: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let size = usize::try_from(size).unwrap_or(0);
    if rows.len() > size {
        rows.truncate(size);
        let next = rows.last().map(cursor);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// One page of a buyer's orders, newest first, and the cursor of the next page if there is one.
pub struct OrdersPage {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

/// 我的订单: the buyer's orders, optionally in one state, from a cursor (an order id) on.
pub async fn my_orders(
    state: &App,
    buyer: &User,
    filter: Option<OrderState>,
    cursor: Option<&str>,
) -> Result<OrdersPage, HistoryError> {
    let before = cursor.filter(|c| !c.is_empty()).map(parse_id_cursor).transpose()?;
    let mut tx = state.store.begin(TxMode::Read).await?;
    let rows = tx.buyer_orders_page(buyer.id, filter, before, PAGE_SIZE + 1).await?;
    let (orders, next) = keyset_page(rows, PAGE_SIZE, |o| o.id.0.to_string());
    Ok(OrdersPage { orders, next })
}

/// One wallet movement with the balance it left.
pub struct WalletLine {
    pub movement: Movement,
    pub balance_after: Money,
}

/// One page of wallet movements, newest first.
pub struct WalletPage {
    pub lines: Vec<WalletLine>,
    /// `<entry id>.<balance before the last line, in 分>`: the next page continues the running balance without
    /// summing the history. A hand-edited cursor can only misstate the balances its editor sees.
    pub next: Option<String>,
}

/// The wallet's ledger movements, newest first, each with the balance after it.
pub async fn wallet_history(state: &App, user: &User, cursor: Option<&str>) -> Result<WalletPage, HistoryError> {
    let parsed = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let (id, balance) = c.split_once('.').ok_or(HistoryError::BadCursor)?;
            let balance = balance.parse::<i64>().map_err(|_| HistoryError::BadCursor)?;
            Some((parse_id_cursor(id)?, Money::from_fen(balance)))
        }
    };
    let account = Account::BuyerWallet(user.id);
    let mut tx = state.store.begin(TxMode::Read).await?;
    let mut balance = match parsed {
        Some((_, b)) => b,
        None => tx.balance(account).await?,
    };
    let mut movements = tx.account_movements(account, parsed.map(|p| p.0), PAGE_SIZE + 1).await?;
    let more = movements.len() as i64 > PAGE_SIZE;
    movements.truncate(PAGE_SIZE as usize);
    let mut lines = Vec::with_capacity(movements.len());
    for m in movements {
        let after = balance;
        balance = Money::from_fen(balance.fen().saturating_sub(m.amount.fen()));
        lines.push(WalletLine { movement: m, balance_after: after });
    }
    let next = if more { lines.last().map(|l| format!("{}.{}", l.movement.entry_id, balance.fen())) } else { None };
    Ok(WalletPage { lines, next })
}

/// What a ledger movement is, as its owner reads it.
pub fn kind_label(kind: TxKind, lang: Lang) -> &'static str {
    match kind {
        TxKind::TopUp => lang.pick("充值", "Top-up"),
        TxKind::Payment => lang.pick("支付订单", "Order payment"),
        TxKind::Settlement => lang.pick("结算", "Settlement"),
        TxKind::Refund => lang.pick("退款", "Refund"),
        TxKind::Withdrawal => lang.pick("提现", "Withdrawal"),
        TxKind::WithdrawalRequest => lang.pick("提现申请", "Withdrawal request"),
        TxKind::WithdrawalReturn => lang.pick("提现退回", "Withdrawal returned"),
        TxKind::Deposit => lang.pick("保证金", "Deposit"),
        TxKind::FundContribution => lang.pick("赔付基金缴纳", "Fund contribution"),
        TxKind::FundRepayment => lang.pick("赔付基金还款", "Fund repayment"),
        TxKind::InsurancePremium => lang.pick("质保险保费", "Insurance premium"),
        TxKind::InsuranceRefund => lang.pick("质保险保费退回", "Premium returned"),
        TxKind::InsurancePayout => lang.pick("质保险赔付", "Insurance payout"),
        TxKind::InsuranceRecovery => lang.pick("质保险追偿", "Insurance recovery"),
        TxKind::GatewayRefund => lang.pick("原路退款", "Refund to payer"),
        TxKind::RefundToWallet => lang.pick("退款转入钱包", "Refund to wallet"),
    }
}

/// One China day of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardDay {
    /// `MM-DD` in China time.
    pub date: String,
    pub orders: i64,
    pub amount: Money,
    pub claims: i64,
    pub refunds: i64,
    pub refunded: Money,
}

/// A shop's figures over the last `days` China days (today included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub days: i64,
    /// Every day of the window, oldest first (days without activity are zeros).
    pub daily: Vec<DashboardDay>,
    pub orders: i64,
    pub amount: Money,
    pub claims: i64,
    /// Claims filed per 1000 orders paid in the window (None without orders).
    pub claim_rate_permille: Option<i64>,
    /// Claims filed in the window that ended in a re-issue.
    pub reissues: i64,
    /// Median time from filing to re-issue, in seconds (None without re-issues).
    pub median_reissue_seconds: Option<i64>,
    pub refunds: i64,
    pub refunded: Money,
}

/// The merchant dashboard: reads only the window (indexed range queries on the shop and time), never the
/// shop's whole history.
pub async fn dashboard(state: &App, merchant: &User, days: i64) -> Result<Dashboard, HistoryError> {
    if !DASHBOARD_DAYS.contains(&days) {
        return Err(HistoryError::BadDays);
    }
    let shop = crate::shops::my_shop(state, merchant).await?;
    let today = china_day(state.now());
    let first = today - days + 1;
    let since = Timestamp(first * DAY_MS - CHINA_OFFSET_MS);
    let figures = {
        let mut tx = state.store.begin(TxMode::Read).await?;
        tx.shop_figures(shop.id, since).await?
    };
    let mut daily: Vec<DashboardDay> = (first..=today)
        .map(|d| DashboardDay {
            date: crate::display::date(Timestamp(d * DAY_MS - CHINA_OFFSET_MS))
                .get(5..10)
                .unwrap_or_default()
                .to_string(),
            orders: 0,
            amount: Money::ZERO,
            claims: 0,
            refunds: 0,
            refunded: Money::ZERO,
        })
        .collect();
    let len = daily.len();
    let slot = |day: i64| usize::try_from(day - first).ok().filter(|i| *i < len);
    for f in &figures.sales {
        if let Some(i) = slot(f.day) {
            daily[i].orders = f.count;
            daily[i].amount = f.amount;
        }
    }
    for f in &figures.claims {
        if let Some(i) = slot(f.day) {
            daily[i].claims = f.count;
        }
    }
    for f in &figures.refunds {
        if let Some(i) = slot(f.day) {
            daily[i].refunds = f.count;
            daily[i].refunded = f.amount;
        }
    }
    let sum = |f: fn(&DashboardDay) -> i64| daily.iter().map(f).fold(0i64, i64::saturating_add);
    let orders = sum(|d| d.orders);
    let claims = sum(|d| d.claims);
    let mut times: Vec<i64> = figures.reissue_ms.iter().map(|(_, ms)| *ms).collect();
    times.sort_unstable();
    let median_ms = match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[n / 2]),
        n => Some(times[n / 2 - 1] / 2 + times[n / 2] / 2),
    };
    Ok(Dashboard {
        days,
        orders,
        amount: Money::from_fen(sum(|d| d.amount.fen())),
        claims,
        claim_rate_permille: (orders > 0).then(|| claims.saturating_mul(1000) / orders),
        reissues: times.len() as i64,
        median_reissue_seconds: median_ms.map(|ms| ms / 1000),
        refunds: sum(|d| d.refunds),
        refunded: Money::from_fen(sum(|d| d.refunded.fen())),
        daily,
    })
}
