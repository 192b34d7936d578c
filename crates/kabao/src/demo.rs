//! `serve --demo`: a small, believable marketplace on an empty database, so a newcomer sees a working store.
//! Seeding is skipped when any shop exists, so restarting with `--demo` never duplicates data.

use anyhow::Context;
use kabao_core::catalog::{Category, CertificationLevel, GoodsKind, ProductDraft};
use kabao_core::user::Role;
use kabao_core::vault::Keyring;
use kabao_core::{Lang, Localized, Money, ProductId, Timestamp, UserId};
use kabao_store::{NewShop, Store, TxMode};
use rand::Rng;

/// The demo buyer's credentials, printed at start.
pub const DEMO_BUYER: (&str, &str) = ("demo_buyer", "kabao-demo-2026");
/// The demo arbiter (平台仲裁员), who rules on disputes.
pub const DEMO_ARBITER: (&str, &str) = ("demo_arbiter", "kabao-demo-2026");
/// Every demo merchant uses this password.
pub const DEMO_MERCHANT_PASSWORD: &str = "kabao-demo-2026";

struct DemoProduct {
    title: &'static str,
    description: &'static str,
    category: Category,
    kind: GoodsKind,
    price_fen: i64,
    keys: usize,
    pair: bool,
    trial: bool,
}

struct DemoShop {
    merchant: &'static str,
    name: &'static str,
    description: &'static str,
    certification: CertificationLevel,
    age_days: i64,
    products: Vec<DemoProduct>,
}

fn catalog() -> Vec<DemoShop> {
    use Category::*;
    let p = |title, description, category, kind, price_fen, keys, pair, trial| DemoProduct {
        title,
        description,
        category,
        kind,
        price_fen,
        keys,
        pair,
        trial,
    };
    vec![
        DemoShop {
            merchant: "xingchen",
            name: "星辰点卡",
            description: "主营腾讯、网易游戏点卡，官方渠道进货，7×12 小时在线。",
            certification: CertificationLevel::Verified,
            age_days: 540,
            products: vec![
                p(
                    "王者荣耀 60 点券",
                    "官方点券卡密，游戏内兑换。",
                    GameCard,
                    GoodsKind::Standard,
                    600,
                    40,
                    false,
                    false,
                ),
                p(
                    "腾讯 Q 币 10 元",
                    "卡号----密码 格式，在 Q 币充值中心使用。",
                    TopUp,
                    GoodsKind::Standard,
                    980,
                    30,
                    true,
                    false,
                ),
                p(
                    "网易一卡通 1 元体验卡",
                    "小额试单用，每位买家限购一张。",
                    GameCard,
                    GoodsKind::Standard,
                    100,
                    20,
                    true,
                    true,
                ),
            ],
        },
        DemoShop {
            merchant: "zhengban",
            name: "正版软件坊",
            description: "企业认证店铺，只卖正版授权，支持开票。",
            certification: CertificationLevel::Enterprise,
            age_days: 900,
            products: vec![
                p(
                    "Windows 11 专业版 零售密钥",
                    "全球通用，联网激活，一机一码。",
                    SoftwareLicense,
                    GoodsKind::Standard,
                    3900,
                    25,
                    false,
                    false,
                ),
                p(
                    "Office 2021 专业增强版",
                    "绑定微软账户，永久使用。",
                    SoftwareLicense,
                    GoodsKind::Standard,
                    6800,
                    15,
                    false,
                    false,
                ),
                p(
                    "爱奇艺黄金会员 月卡",
                    "激活码兑换，到账即生效。",
                    MembershipAccount,
                    GoodsKind::Standard,
                    1500,
                    30,
                    false,
                    false,
                ),
                p(
                    "设计素材库 共享下载账号（循环卡密）",
                    "所有买家收到同一个下载账号，30 天内有效。",
                    MembershipAccount,
                    GoodsKind::Shared,
                    300,
                    50,
                    false,
                    false,
                ),
            ],
        },
        DemoShop {
            merchant: "youxihao",
            name: "游戏账号工作室",
            description: "新开小店，账号均为自营，交付后可改绑。",
            certification: CertificationLevel::None,
            age_days: 45,
            products: vec![
                p(
                    "原神 自选五星初始号",
                    "下单后填写想要的角色，人工交付。",
                    GameAccount,
                    GoodsKind::Custom,
                    3000,
                    5,
                    false,
                    false,
                ),
                p(
                    "Steam 钱包 50 元（美区）",
                    "美区钱包码，请确认账号地区。",
                    TopUp,
                    GoodsKind::Standard,
                    4200,
                    10,
                    false,
                    false,
                ),
                p(
                    "Steam 钱包 5 元体验卡（美区）",
                    "新店小额试单：先买一张确认可用，每位买家限购一张。",
                    TopUp,
                    GoodsKind::Standard,
                    500,
                    10,
                    false,
                    true,
                ),
            ],
        },
    ]
}

fn random_group(rng: &mut impl Rng, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..n).map(|_| ALPHABET.get(rng.gen_range(0..ALPHABET.len())).map(|b| char::from(*b)).unwrap_or('X')).collect()
}

fn random_key(rng: &mut impl Rng, pair: bool) -> String {
    if pair {
        let number: String = (0..16).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect();
        format!("{number}----{}", random_group(rng, 8))
    } else {
        format!("{}-{}-{}-{}", random_group(rng, 5), random_group(rng, 5), random_group(rng, 5), random_group(rng, 5))
    }
}

/// Seeds the demo marketplace if the database has no shop yet.
pub async fn seed(store: &dyn Store, keyring: &std::sync::Arc<Keyring>, now: Timestamp) -> anyhow::Result<()> {
    {
        let mut tx = store.begin(TxMode::Read).await?;
        if !tx.list_shops(1, 0).await?.is_empty() {
            println!("demo: the database already has shops; nothing seeded");
            print_credentials();
            return Ok(());
        }
    }
    let create = |username: &'static str, password: &'static str, role: Role| async move {
        kabao_app::accounts::create_user(store, username, password, role, None, now)
            .await
            .map_err(|e| anyhow::anyhow!("demo user {username}: {}", e.message(Lang::En)))
    };
    match create(DEMO_BUYER.0, DEMO_BUYER.1, Role::Buyer).await {
        Ok(_) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    match create(DEMO_ARBITER.0, DEMO_ARBITER.1, Role::Arbiter).await {
        Ok(_) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    // The platform's starting capital in the compensation fund (纠纷赔付基金), so its page has something to show.
    {
        use kabao_core::ledger::{Account, LedgerTx, TxKind};
        let seed = LedgerTx::transfer(
            TxKind::FundContribution,
            Account::GatewayClearing,
            Account::CompensationFund,
            Money::from_fen(100_000),
        )
        .map_err(|e| anyhow::anyhow!("demo fund: {e}"))?;
        let mut tx = store.begin(TxMode::Write).await?;
        tx.post_ledger(&seed, None, now).await?;
        tx.commit().await?;
    }
    let mut rng = rand::thread_rng();
    for shop in catalog() {
        let owner: UserId = create(shop.merchant, DEMO_MERCHANT_PASSWORD, Role::Merchant).await?.id;
        let mut tx = store.begin(TxMode::Write).await?;
        let shop_id = tx
            .insert_shop(&NewShop {
                owner_id: owner,
                name: shop.name.to_string(),
                description: shop.description.to_string(),
                opened_at: Timestamp::from_millis(now.millis() - shop.age_days * 86_400_000),
            })
            .await?;
        tx.set_shop_certification(shop_id, shop.certification).await?;
        if shop.certification != CertificationLevel::None {
            // Certified demo shops paid a ¥500 deposit and joined the fund: their products show 赔付保障.
            use kabao_core::ledger::{Account, LedgerTx, TxKind};
            let deposit = LedgerTx::transfer(
                TxKind::Deposit,
                Account::GatewayClearing,
                Account::MerchantDeposit(shop_id),
                Money::from_fen(50_000),
            )
            .map_err(|e| anyhow::anyhow!("demo deposit: {e}"))?;
            tx.post_ledger(&deposit, None, now).await?;
            tx.insert_fund_member(shop_id, now).await?;
        }
        let mut products: Vec<(ProductId, &DemoProduct)> = Vec::new();
        for p in &shop.products {
            let draft = ProductDraft {
                title: p.title.to_string(),
                description: p.description.to_string(),
                category: p.category,
                kind: p.kind,
                price: Money::from_fen(p.price_fen),
                max_per_order: if p.trial { 1 } else { 10 },
                trial: p.trial,
                listed: true,
            };
            let id = tx.insert_product(shop_id, &draft, now).await?;
            // Warranty rules from the merchant templates, by category; certified shops only, so the demo also
            // shows what 无质保 looks like.
            use Category::*;
            let template = match p.category {
                GameCard | TopUp => "point_card_24h",
                SoftwareLicense => "license_key_7d",
                GameAccount | MembershipAccount => "account_30d",
                _ => "",
            };
            let policy = kabao_core::warranty::templates().into_iter().find(|t| t.id == template).map(|t| t.policy);
            if let (Some(policy), false) = (policy, shop.certification == CertificationLevel::None) {
                kabao_app::warranty::record(&mut *tx, id, policy, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo warranty rules: {}", e.message(Lang::En)))?;
            }
            products.push((id, p));
        }
        tx.commit().await?;
        for (id, p) in products {
            if p.keys == 0 {
                continue;
            }
            if p.kind == GoodsKind::Custom {
                // 人工交付: the buyer names the character and a contact-free login email; 24 hours to deliver.
                kabao_app::inventory::set_custom_spec(store, owner, id, "想要的五星角色\n换绑邮箱", 24, p.keys as i64)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message(Lang::En)))?;
                continue;
            }
            if p.kind == GoodsKind::Shared {
                let secret =
                    format!("下载站账号 demo-share-{} 密码 {}", random_group(&mut rng, 4), random_group(&mut rng, 8));
                let scan = kabao_core::risk::ScanConfig::default();
                kabao_app::inventory::set_shared_secret(store, keyring, &scan, owner, id, &secret, p.keys as i64, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message(Lang::En)))?;
                continue;
            }
            let file: String = (0..p.keys).map(|_| random_key(&mut rng, p.pair) + "\n").collect();
            kabao_app::inventory::import_keys(store, keyring, owner, id, file.as_bytes(), "demo", now)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message(Lang::En)))
                .with_context(|| format!("demo keys for {}", p.title))?;
        }
    }
    println!("demo: seeded 3 shops, 9 products and their card keys");
    print_credentials();
    Ok(())
}

fn print_credentials() {
    println!("demo buyer / 演示买家: {} / {}", DEMO_BUYER.0, DEMO_BUYER.1);
    println!("demo merchants / 演示商家: xingchen, zhengban, youxihao / {DEMO_MERCHANT_PASSWORD}");
    println!("demo arbiter / 演示仲裁员: {} / {}", DEMO_ARBITER.0, DEMO_ARBITER.1);
}
