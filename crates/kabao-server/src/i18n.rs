//! The words of the pages, in zh-CN and English. Templates call `t.get("key")`; a test checks that every key
//! used in a template exists here, so a missing translation fails the build's tests, not a user's screen.

use kabao_core::inventory::DuplicateLine;
use kabao_core::Lang;

/// Translator handed to every template.
#[derive(Clone, Copy)]
pub struct T {
    pub lang: Lang,
}

impl T {
    pub fn get(&self, key: &str) -> &'static str {
        match lookup(key) {
            Some((zh, en)) => self.lang.pick(zh, en),
            None => "??",
        }
    }
    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }
    pub fn tag(&self) -> &'static str {
        self.lang.tag()
    }
}

fn lookup(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "brand" => ("卡保", "Kabao"),
        "brand.alt" => ("Kabao", "卡保"),
        "tagline" => ("买卡有质保：信誉先看，规则先写，钱由平台担保", "Virtual goods with a warranty: trust first, rules in writing, money in escrow"),
        "nav.home" => ("首页", "Home"),
        "nav.console" => ("商家后台", "Merchant console"),
        "nav.admin" => ("管理后台", "Admin"),
        "nav.login" => ("登录", "Log in"),
        "nav.register" => ("注册", "Register"),
        "nav.logout" => ("退出", "Log out"),
        "nav.lang_other" => ("English", "中文"),
        "home.title" => ("在售商品", "Products on sale"),
        "home.empty" => ("还没有在售商品。", "No products on sale yet."),
        "product.price" => ("价格", "Price"),
        "product.stock" => ("库存", "In stock"),
        "product.category" => ("分类", "Category"),
        "product.kind" => ("交付方式", "Delivery"),
        "product.shop" => ("店铺", "Shop"),
        "product.description" => ("商品说明", "Description"),
        "product.max_per_order" => ("每单限购", "Max per order"),
        "product.trial" => ("体验卡（每位买家限购一张）", "Trial item (one per buyer)"),
        "product.no_warranty" => ("无质保", "No warranty"),
        "product.has_warranty" => ("有补单保障", "Re-issue warranty"),
        "product.warranty_rules" => ("补单规则（付款前确认，下单后不变）", "Warranty rules (confirmed before paying, fixed on the order)"),
        "product.warranty_fixed" => ("下单时平台保存这份规则及其 SHA-256 指纹；售后按这份规则执行，商家之后修改规则也不影响你的订单。", "The platform stores these rules and their SHA-256 with your order; claims follow them even if the merchant changes the rules later."),
        "buy.ack_warranty" => ("我已阅读并接受以上补单规则", "I have read and accept the warranty rules above"),
        "order.warranty_rules" => ("本订单的补单规则", "This order's warranty rules"),
        "console.warranty" => ("补单规则", "Warranty rules"),
        "console.warranty_hint" => ("选择一个模板（也可通过 API 逐项自定义）。每次修改生成新版本，已售订单保留购买时的版本。", "Pick a template (or build one field by field through the API). Each change is a new version; orders keep the version they were sold under."),
        "console.warranty_none" => ("无质保", "No warranty"),
        "console.warranty_current" => ("当前版本", "Current version"),
        "console.warranty_build" => ("逐项自定义规则", "Build the rules field by field"),
        "console.warranty_covered" => ("保障的问题", "Covered defects"),
        "console.warranty_evidence" => ("买家需提供的证据", "Evidence the buyer must give"),
        "console.warranty_window" => ("售后期限", "Claim window"),
        "console.warranty_window_unit" => ("单位", "Unit"),
        "console.hours" => ("小时（发货后）", "hours (after delivery)"),
        "console.days" => ("天（质保期）", "days (warranty period)"),
        "console.warranty_not_activated" => ("仅限未激活的商品", "Only items not yet activated"),
        "console.warranty_remedy" => ("处理方式", "Remedy"),
        "console.warranty_reissues" => ("每件最多补发次数（仅退款填 0）", "Re-issues per item (0 for refund only)"),
        "console.warranty_auto" => ("符合条件且有库存时自动补发", "Re-issue automatically when the claim qualifies and stock is available"),
        "console.warranty_response" => ("商家响应时限（小时）", "Your response deadline (hours)"),
        "product.no_warranty_hint" => (
            "该商品没有书面补单规则：卡密出问题时，平台无法按规则为你补发或退款。",
            "This product has no written re-issue rules: if a key fails, the platform cannot re-issue or refund by rule.",
        ),
        "product.unlisted" => ("未上架（仅你可见）", "Unlisted (visible only to you)"),
        "product.buy_soon" => ("下单与担保支付即将开放。", "Checkout with escrow is coming soon."),
        "shop.opened" => ("开店时间", "Opened"),
        "shop.products" => ("在售商品", "Products"),
        "shop.suspended" => ("店铺已被暂停", "Shop suspended"),
        "auth.username" => ("用户名", "Username"),
        "auth.password" => ("密码", "Password"),
        "auth.password_hint" => ("至少 8 个字符", "At least 8 characters"),
        "auth.email" => ("邮箱（选填）", "Email (optional)"),
        "auth.role" => ("我是", "I am a"),
        "auth.role_buyer" => ("买家", "Buyer"),
        "auth.role_merchant" => ("商家（开店卖货）", "Merchant (I sell)"),
        "auth.register_title" => ("注册账号", "Create an account"),
        "auth.register_submit" => ("注册", "Register"),
        "auth.login_title" => ("登录", "Log in"),
        "auth.login_submit" => ("登录", "Log in"),
        "auth.have_account" => ("已有账号？去登录", "Have an account? Log in"),
        "auth.no_account" => ("还没有账号？注册", "No account yet? Register"),
        "console.title" => ("商家后台", "Merchant console"),
        "console.open_shop" => ("开设店铺", "Open your shop"),
        "console.open_shop_hint" => ("每个商家账号可以开一家店铺。", "Each merchant account can open one shop."),
        "console.shop_name" => ("店铺名称", "Shop name"),
        "console.shop_description" => ("店铺介绍", "About the shop"),
        "console.save" => ("保存", "Save"),
        "console.create" => ("创建", "Create"),
        "console.products" => ("商品", "Products"),
        "console.new_product" => ("新建商品", "New product"),
        "console.no_products" => ("还没有商品。", "No products yet."),
        "console.edit_product" => ("编辑商品", "Edit product"),
        "console.title_field" => ("商品标题", "Title"),
        "console.price_field" => ("价格（元）", "Price (yuan)"),
        "console.listed" => ("上架销售", "Listed for sale"),
        "console.stock_available" => ("可售库存", "Available stock"),
        "console.import" => ("导入卡密", "Import card keys"),
        "console.import_hint" => (
            "上传 UTF-8 文本文件：每行一个卡密，或 卡号----密码；空行会被忽略。单次最多 16 MB。",
            "Upload a UTF-8 text file: one key per line, or number----password; blank lines are ignored. At most 16 MB.",
        ),
        "console.import_file" => ("卡密文件", "Key file"),
        "console.import_submit" => ("导入", "Import"),
        "console.report" => ("导入结果", "Import result"),
        "console.report_accepted" => ("成功导入", "Imported"),
        "console.report_lines" => ("行号", "Lines"),
        "console.report_duplicates" => ("重复（未导入）", "Duplicates (not imported)"),
        "console.report_malformed" => ("格式错误（未导入）", "Malformed (not imported)"),
        "console.report_nothing" => ("没有导入任何卡密。", "No key was imported."),
        "console.batches" => ("导入批次", "Import batches"),
        "console.batch" => ("批次", "Batch"),
        "console.batch_source" => ("来源", "Source"),
        "console.available" => ("可售", "Available"),
        "console.sold" => ("已售", "Sold"),
        "console.voided" => ("已作废", "Voided"),
        "console.void" => ("作废未售卡密", "Void unsold keys"),
        "console.keys" => ("卡密（仅你可见）", "Keys (only you can see them)"),
        "console.no_keys" => ("还没有卡密。", "No keys yet."),
        "console.shared" => ("循环卡密", "Shared secret"),
        "console.shared_hint" => ("所有买家收到同一份内容（共享账号、通用码、下载链接和密码）。库存为可售份数。", "Every buyer receives the same content (a shared account, a universal code, a link and password). Stock is how many may be sold."),
        "console.shared_secret" => ("共享内容", "Shared content"),
        "console.back" => ("返回后台", "Back to console"),
        "console.custom" => ("人工交付设置", "Manual delivery"),
        "console.custom_hint" => ("买家下单时填写下列信息（每行一个字段，最多 5 个，均为必填）；付款后须在发货时限内手动发货，超时平台自动全额退款给买家。库存为可接单份数。", "Buyers fill these fields at checkout (one per line, up to 5, all required); after payment you must deliver by hand within the deadline, or the platform refunds the buyer in full. Stock is how many orders you accept."),
        "console.custom_fields" => ("下单信息字段", "Order fields"),
        "console.delivery_hours" => ("发货时限（小时，1–168）", "Delivery deadline (hours, 1–168)"),
        "console.claims" => ("售后申请", "Claims"),
        "console.claims_hint" => ("按处理时限排序。超时未处理：符合规则的申请由系统自动执行补单或退款。", "Nearest deadline first. If you do not answer in time, eligible claims are remedied automatically."),
        "console.no_claims" => ("暂无待处理的售后申请。", "No claims waiting."),
        "console.claims_closed" => ("最近已结束", "Recently closed"),
        "claim.file_link" => ("申请售后", "File a claim"),
        "claim.section" => ("售后", "Claims"),
        "claim.none_yet" => ("卡密有问题？先查看卡密，再按购买时的补单规则申请售后，平台担保执行。", "A key does not work? Reveal it, then file a claim under the rules you bought with; the platform enforces them."),
        "claim.reveal_first" => ("需先查看卡密", "Reveal the key first"),
        "claim.item" => ("第几件", "Item"),
        "claim.new_title" => ("申请售后（补单）", "File a claim (re-issue)"),
        "claim.back_to_order" => ("← 返回订单", "← Back to the order"),
        "claim.back" => ("← 返回", "← Back"),
        "claim.no_warranty_hint" => ("该订单购买时无质保，仍可提交申请，由商家决定是否处理，或申请平台介入。", "This order was sold without a warranty. You may still file; the merchant decides, or the platform can step in."),
        "claim.defect" => ("遇到的问题", "Problem"),
        "claim.covered_hint" => ("带 ✓ 的问题在本订单的保障范围内。", "Problems marked ✓ are covered by this order's rules."),
        "claim.evidence_required" => ("规则要求的证据：", "Evidence the rules require:"),
        "claim.files" => ("证据文件（截图、录屏或文本）", "Evidence files (screenshots, recordings or text)"),
        "claim.files_hint" => ("最多 6 个文件；图片 / 视频上限：", "Up to 6 files; image / video limits:"),
        "claim.error_text" => ("错误提示或错误代码（原样粘贴）", "The error message or code (paste it as shown)"),
        "claim.description" => ("问题描述（可选）", "What happened (optional)"),
        "claim.activated" => ("我在出现问题前已激活 / 兑换过该商品", "I activated / redeemed the item before the problem"),
        "claim.submit" => ("提交售后申请", "Submit the claim"),
        "claim.evidence_hint" => ("每份证据在服务器上记录 SHA-256 指纹和时间，并与购买时的商品信息、补单规则和所报问题绑定，任何一方都无法事后修改。", "Each piece of evidence is fingerprinted (SHA-256) with the server's time and bound to the product as sold, its rules and the problem claimed; no one can alter it later."),
        "claim.title" => ("售后申请", "Claim"),
        "claim.new_key" => ("已自动补发新卡密", "Your new key, re-issued automatically"),
        "claim.new_key_hint" => ("原卡密已作废。新卡密也保存在订单页，随时可再次查看。", "The reported key is void. The new one is also on the order page."),
        "claim.state" => ("状态", "State"),
        "claim.was_activated" => ("买家称已激活", "activated, says the buyer"),
        "claim.eligibility" => ("是否符合规则", "Within the rules?"),
        "claim.eligible" => ("符合购买时的规则", "Within the rules sold with"),
        "claim.ineligible" => ("不符合规则", "Outside the rules"),
        "claim.ineligible_hint" => ("不符合规则的申请也会交给商家处理；被拒绝后可申请平台介入。", "A claim outside the rules still goes to the merchant; if rejected, you can ask the platform to step in."),
        "claim.deadline" => ("商家处理时限", "Merchant's deadline"),
        "claim.hours_left" => ("小时后到期", "hours left"),
        "claim.paused" => ("已暂停，等待买家补充证据", "Paused until the buyer adds evidence"),
        "claim.request_note" => ("商家要求补充证据：", "The merchant asks for more evidence:"),
        "claim.decision_reason" => ("处理理由：", "Reason given:"),
        "claim.evidence" => ("证据", "Evidence"),
        "claim.add_evidence" => ("补充证据", "Add evidence"),
        "claim.decide" => ("处理申请", "Decide"),
        "claim.approve" => ("同意：按规则补发或退款", "Approve: re-issue or refund as the rules say"),
        "claim.reject_reason" => ("拒绝理由（买家可见，可被平台审核）", "Reason for rejecting (shown to the buyer and to the platform)"),
        "claim.reject" => ("拒绝", "Reject"),
        "claim.ask_note" => ("需要买家补充什么（只能要求一次，期间时限暂停）", "What the buyer should add (once; the deadline pauses meanwhile)"),
        "claim.ask" => ("要求补充证据", "Ask for more evidence"),
        "console.deliveries" => ("待发货订单", "Orders to deliver"),
        "console.deliveries_hint" => ("人工交付订单按截止时间排列。超过截止时间未发货，订单自动退款。", "Manual-delivery orders, nearest deadline first. An order not delivered by its deadline is refunded automatically."),
        "console.no_deliveries" => ("目前没有待发货的订单。", "No orders waiting for delivery."),
        "console.deliver_by" => ("请在此前发货：", "Deliver by"),
        "console.minutes_left" => ("分钟后自动退款", "minutes before the automatic refund"),
        "console.delivery_text" => ("发货内容（买家在订单页查看，加密保存）", "Delivery (the buyer sees it on the order page; stored encrypted)"),
        "console.deliver" => ("确认发货", "Deliver"),
        "custom.deadline" => ("发货时限", "Delivery deadline"),
        "custom.hours_refund" => ("小时内人工发货，超时自动退款", "hours, delivered by hand; refunded automatically if late"),
        "order.custom_fields" => ("下单信息", "Order details"),
        "order.delivery_deadline" => ("商家须在此前发货，否则自动退款：", "The merchant must deliver by this time, or you are refunded automatically:"),
        "console.view_public" => ("查看商品页", "View product page"),
        "console.tokens" => ("API 令牌", "API tokens"),
        "console.tokens_hint" => ("用于通过 JSON API 管理商品与卡密。令牌只显示一次。", "For managing products and keys through the JSON API. A token is shown only once."),
        "console.token_name" => ("令牌名称", "Token name"),
        "console.token_create" => ("创建令牌", "Create token"),
        "console.token_new" => ("新令牌（请立即保存，之后不再显示）", "New token (save it now; it will not be shown again)"),
        "console.token_revoke" => ("吊销", "Revoke"),
        "console.token_revoked" => ("已吊销", "Revoked"),
        "console.merchant_only" => ("商家后台只对商家账号开放。", "The merchant console is for merchant accounts."),
        "admin.title" => ("管理后台", "Admin"),
        "admin.users" => ("用户", "Users"),
        "admin.shops" => ("店铺", "Shops"),
        "admin.role" => ("角色", "Role"),
        "admin.set_role" => ("修改角色", "Change role"),
        "admin.certification" => ("认证", "Certification"),
        "admin.set" => ("设置", "Set"),
        "admin.suspend" => ("暂停店铺", "Suspend"),
        "admin.reinstate" => ("恢复店铺", "Reinstate"),
        "admin.reason" => ("原因", "Reason"),
        "admin.status" => ("状态", "Status"),
        "admin.active" => ("正常", "Active"),
        "common.created" => ("创建时间", "Created"),
        "common.id" => ("编号", "ID"),
        "common.name" => ("名称", "Name"),
        "common.actions" => ("操作", "Actions"),
        "common.yes" => ("是", "Yes"),
        "common.no" => ("否", "No"),
        "error.title" => ("出错了", "Something went wrong"),
        "error.back" => ("返回首页", "Back to the home page"),
        "error.not_found" => ("找不到该页面或内容。", "This page or item does not exist."),
        "nav.lookup" => ("订单查询", "Find my order"),
        "nav.wallet" => ("钱包", "Wallet"),
        "buy.quantity" => ("购买数量", "Quantity"),
        "buy.email" => ("邮箱（用于查询订单和接收发货通知）", "Email (to find your order and get the delivery notice)"),
        "buy.query_password" => ("查询密码（选填，6 位以上）", "Query password (optional, 6+ characters)"),
        "buy.ack_no_warranty" => ("我已知悉：该商品无质保，卡密出问题时平台无法按规则补发或退款", "I understand this product has no warranty: the platform cannot re-issue or refund a failed key by rule"),
        "buy.submit" => ("立即购买", "Buy now"),
        "buy.unavailable" => ("暂不可购买（库存不足或需人工交付）", "Not available to buy now (out of stock, or delivered by hand)"),
        "order.title" => ("订单", "Order"),
        "order.your_keys" => ("你的卡密", "Your keys"),
        "order.key" => ("卡密", "Key"),
        "order.copy" => ("复制", "Copy"),
        "order.keys_hint" => ("每次查看都会被记录（时间与账号），请妥善保管，勿发给他人。", "Every reveal is recorded (time and account). Keep your keys to yourself."),
        "order.delivered" => ("已发货，卡密在这里", "Delivered: your keys are here"),
        "order.reveal" => ("查看卡密", "Reveal keys"),
        "order.reveal_hint" => ("点击后显示卡密，并记录查看时间。", "Shows the keys and records the time of the reveal."),
        "order.state" => ("状态", "Status"),
        "order.product" => ("商品", "Product"),
        "order.amount" => ("金额", "Amount"),
        "order.warranty" => ("质保条款", "Warranty terms"),
        "order.pay_wallet" => ("用钱包余额支付", "Pay from wallet"),
        "order.pay_gateway" => ("在线支付", "Pay online"),
        "order.timeline" => ("订单记录", "Timeline"),
        "sandbox.title" => ("沙箱支付", "Sandbox payment"),
        "sandbox.hint" => ("这是开发用的模拟支付网关：点击按钮即模拟付款成功，网关会向平台发送带签名的异步通知。", "A simulated gateway for development: the button pays, and the gateway sends the platform a signed asynchronous notification."),
        "sandbox.trade_no" => ("交易号", "Trade number"),
        "sandbox.pay" => ("模拟付款成功", "Simulate a successful payment"),
        "sandbox.already_paid" => ("这笔交易已支付。", "This payment is already paid."),
        "sandbox.back" => ("返回", "Back"),
        "lookup.title" => ("订单查询", "Find my order"),
        "lookup.hint" => ("游客订单：输入订单号，以及下单时填写的邮箱或查询密码。", "Guest orders: enter the order number and the email or query password you gave."),
        "lookup.order_no" => ("订单号", "Order number"),
        "lookup.secret" => ("邮箱或查询密码", "Email or query password"),
        "lookup.submit" => ("查询", "Find"),
        "wallet.title" => ("我的钱包", "My wallet"),
        "wallet.balance" => ("余额", "Balance"),
        "wallet.amount" => ("充值金额（元）", "Amount (yuan)"),
        "wallet.top_up" => ("充值", "Top up"),
        "wallet.orders" => ("我的订单", "My orders"),
        "finance.title" => ("资金与提现", "Money and withdrawals"),
        "finance.available" => ("可提现余额", "Available to withdraw"),
        "finance.in_escrow" => ("担保中（质保期未结束）", "In escrow (claim window open)"),
        "finance.pending_withdrawals" => ("提现审核中", "Withdrawals under review"),
        "finance.amount" => ("提现金额（元）", "Amount (yuan)"),
        "finance.withdraw" => ("申请提现", "Request withdrawal"),
        "finance.withdrawals" => ("提现记录", "Withdrawals"),
        "finance.statement" => ("资金流水", "Statement"),
        "finance.orders" => ("订单", "Orders"),
        "console.finance" => ("资金与提现", "Money and withdrawals"),
        "admin.withdrawals" => ("提现审核", "Withdrawal approvals"),
        "admin.no_withdrawals" => ("没有待审核的提现申请。", "No withdrawals waiting."),
        "admin.approve" => ("批准", "Approve"),
        "admin.reject" => ("拒绝", "Reject"),
        "footer.text" => ("卡保：虚拟商品，质保到底。", "Kabao: virtual goods, with the warranty built in."),
        _ => return None,
    })
}

/// "第 5 行：重复（与第 2 行相同）" / "第 5 行：店铺中已有此卡密".
pub fn duplicate_message(d: &DuplicateLine, lang: Lang) -> String {
    match (d.same_as_line, lang) {
        (Some(first), Lang::Zh) => format!("第 {} 行：重复（与第 {first} 行相同）", d.line),
        (None, Lang::Zh) => format!("第 {} 行：店铺中已有此卡密", d.line),
        (Some(first), Lang::En) => format!("Line {}: duplicate (same as line {first})", d.line),
        (None, Lang::En) => format!("Line {}: the shop already has this key", d.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t.get("...")` in the templates has both translations.
    #[test]
    fn every_template_key_is_translated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("t.get(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(lookup(key).is_some(), "missing translation for {key:?}");
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} keys found: is the template scan broken?");
    }

    #[test]
    fn duplicate_messages_name_both_lines() {
        let d = DuplicateLine { line: 5, same_as_line: Some(2) };
        assert_eq!(duplicate_message(&d, Lang::Zh), "第 5 行：重复（与第 2 行相同）");
    }
}
