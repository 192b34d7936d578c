//! SQLite: variants, wholesale tiers, coupons and order pricing ([`PromotionsTx`]).

use super::SqliteTx;
use crate::errors::map_sqlx;
use crate::tx::promotions::{coupon_from_row, CouponRow, COUPON_COLS};
use crate::{lite, Coupon, CouponTake, OrderPricing, PromotionsTx, StoreResult, VariantRow};
use async_trait::async_trait;
use kabao_core::ledger::OrderId;
use kabao_core::pricing::{coupon_code_key, CouponOff, CouponTerms, Tier};
use kabao_core::{Money, ProductId, ShopId, Timestamp};

#[async_trait]
impl PromotionsTx for SqliteTx {
    async fn set_variant_of(&mut self, product: ProductId, parent: Option<(ProductId, &str)>) -> StoreResult<()> {
        lite::query("UPDATE products SET variant_of = $1, variant_label = $2 WHERE id = $3")
            .bind(parent.map(|(p, _)| p.0))
            .bind(parent.map(|(_, l)| l.to_string()))
            .bind(product.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn variants_of(&mut self, parent: ProductId) -> StoreResult<Vec<VariantRow>> {
        let rows: Vec<(i64, Option<String>)> =
            lite::query_as("SELECT id, variant_label FROM products WHERE variant_of = $1 ORDER BY id")
                .bind(parent.0)
                .fetch_all(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(id, l)| VariantRow { product_id: ProductId(id), label: l.unwrap_or_default() })
            .collect())
    }

    async fn variant_parent(&mut self, product: ProductId) -> StoreResult<Option<(ProductId, String)>> {
        let row: Option<(Option<i64>, Option<String>)> =
            lite::query_as("SELECT variant_of, variant_label FROM products WHERE id = $1")
                .bind(product.0)
                .fetch_optional(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(row.and_then(|(p, l)| p.map(|p| (ProductId(p), l.unwrap_or_default()))))
    }

    async fn set_tiers(&mut self, product: ProductId, tiers: &[Tier]) -> StoreResult<()> {
        lite::query("DELETE FROM product_tiers WHERE product_id = $1")
            .bind(product.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        for t in tiers {
            lite::query("INSERT INTO product_tiers (product_id, min_quantity, unit_price_fen) VALUES ($1, $2, $3)")
                .bind(product.0)
                .bind(t.min_quantity)
                .bind(t.unit_price.fen())
                .execute(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        }
        Ok(())
    }

    async fn tiers_of(&mut self, product: ProductId) -> StoreResult<Vec<Tier>> {
        let rows: Vec<(i64, i64)> = lite::query_as(
            "SELECT min_quantity, unit_price_fen FROM product_tiers WHERE product_id = $1 ORDER BY min_quantity",
        )
        .bind(product.0)
        .fetch_all(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(q, p)| Tier { min_quantity: q, unit_price: Money::from_fen(p) }).collect())
    }

    async fn insert_coupon(&mut self, shop: ShopId, terms: &CouponTerms, at: Timestamp) -> StoreResult<i64> {
        let key = coupon_code_key(&terms.code).map_err(|_| crate::StoreError::Conflict("coupons.code"))?;
        let (amount_off, percent_off) = match terms.off {
            CouponOff::Amount(m) => (Some(m.fen()), None),
            CouponOff::Percent(p) => (None, Some(p)),
        };
        let id: i64 = lite::query_scalar(
            "INSERT INTO coupons (shop_id, code, code_key, amount_off_fen, percent_off, product_id, min_order_fen, \
             usage_limit, per_buyer_limit, expires_at, enabled, used, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12) RETURNING id",
        )
        .bind(shop.0)
        .bind(terms.code.trim())
        .bind(key)
        .bind(amount_off)
        .bind(percent_off)
        .bind(terms.product.map(|p| p.0))
        .bind(terms.min_order.map(|m| m.fen()))
        .bind(terms.usage_limit)
        .bind(terms.per_buyer_limit)
        .bind(terms.expires_at.millis())
        .bind(true)
        .bind(at.millis())
        .fetch_one(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(id)
    }

    async fn coupon_by_code(&mut self, shop: ShopId, code_key: &str) -> StoreResult<Option<Coupon>> {
        let sql = format!("SELECT {COUPON_COLS} FROM coupons WHERE shop_id = $1 AND code_key = $2");
        let row: Option<CouponRow> =
            lite::query_as(&sql).bind(shop.0).bind(code_key).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(row.map(coupon_from_row))
    }

    async fn coupon_by_id(&mut self, id: i64) -> StoreResult<Option<Coupon>> {
        let sql = format!("SELECT {COUPON_COLS} FROM coupons WHERE id = $1");
        let row: Option<CouponRow> =
            lite::query_as(&sql).bind(id).fetch_optional(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(row.map(coupon_from_row))
    }

    async fn shop_coupons(&mut self, shop: ShopId) -> StoreResult<Vec<Coupon>> {
        let sql = format!("SELECT {COUPON_COLS} FROM coupons WHERE shop_id = $1 ORDER BY id DESC LIMIT 500");
        let rows: Vec<CouponRow> = lite::query_as(&sql).bind(shop.0).fetch_all(&mut self.tx).await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(coupon_from_row).collect())
    }

    async fn set_coupon_enabled(&mut self, shop: ShopId, id: i64, enabled: bool) -> StoreResult<bool> {
        let done = lite::query("UPDATE coupons SET enabled = $1 WHERE id = $2 AND shop_id = $3")
            .bind(enabled)
            .bind(id)
            .bind(shop.0)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_coupon_use(
        &mut self,
        coupon: i64,
        order: OrderId,
        buyer_key: &str,
        per_buyer_limit: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<CouponTake> {
        // The conditional update is the use: it holds the coupon's row until commit, so the buyer count below
        // is read after every earlier use of this coupon committed.
        let done = lite::query(
            "UPDATE coupons SET used = used + 1 WHERE id = $1 AND enabled = $2 AND used < usage_limit \
             AND expires_at > $3",
        )
        .bind(coupon)
        .bind(true)
        .bind(now.millis())
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        if done.rows_affected() != 1 {
            return Ok(CouponTake::Unavailable);
        }
        if let Some(limit) = per_buyer_limit {
            let held: i64 = lite::query_scalar(
                "SELECT COUNT(*) FROM coupon_uses WHERE coupon_id = $1 AND buyer_key = $2 AND released_at IS NULL",
            )
            .bind(coupon)
            .bind(buyer_key)
            .fetch_one(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
            if held >= limit {
                // The use taken above goes back, so this answer changes nothing.
                lite::query("UPDATE coupons SET used = used - 1 WHERE id = $1")
                    .bind(coupon)
                    .execute(&mut self.tx)
                    .await
                    .map_err(map_sqlx)?;
                return Ok(CouponTake::BuyerLimit);
            }
        }
        lite::query("INSERT INTO coupon_uses (order_id, coupon_id, buyer_key, used_at) VALUES ($1, $2, $3, $4)")
            .bind(order.0)
            .bind(coupon)
            .bind(buyer_key)
            .bind(now.millis())
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(CouponTake::Taken)
    }

    async fn release_coupon_use(&mut self, order: OrderId, now: Timestamp) -> StoreResult<bool> {
        let coupon: Option<i64> = lite::query_scalar(
            "UPDATE coupon_uses SET released_at = $1 WHERE order_id = $2 AND released_at IS NULL RETURNING coupon_id",
        )
        .bind(now.millis())
        .bind(order.0)
        .fetch_optional(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        let Some(coupon) = coupon else { return Ok(false) };
        lite::query("UPDATE coupons SET used = used - 1 WHERE id = $1 AND used > 0")
            .bind(coupon)
            .execute(&mut self.tx)
            .await
            .map_err(map_sqlx)?;
        Ok(true)
    }

    async fn set_order_pricing(&mut self, p: &OrderPricing) -> StoreResult<()> {
        lite::query(
            "UPDATE orders SET list_unit_price_fen = $1, tier_unit_price_fen = $2, amount_before_fen = $3, \
             coupon_id = $4, coupon_code = $5, discount_fen = $6 WHERE id = $7",
        )
        .bind(p.list_unit_price.fen())
        .bind(p.tier_unit_price.fen())
        .bind(p.amount_before.fen())
        .bind(p.coupon_id)
        .bind(p.coupon_code.clone())
        .bind(p.discount.fen())
        .bind(p.order_id.0)
        .execute(&mut self.tx)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn variant_products_of_shop(&mut self, shop: ShopId) -> StoreResult<Vec<ProductId>> {
        let rows: Vec<(i64,)> =
            lite::query_as("SELECT id FROM products WHERE shop_id = $1 AND variant_of IS NOT NULL ORDER BY id")
                .bind(shop.0)
                .fetch_all(&mut self.tx)
                .await
                .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(id,)| ProductId(id)).collect())
    }
}
