//! Catalog search, categories, sorts, cursor pages and product pictures, through the API and the pages, on
//! SQLite and (when `KABAO_TEST_DATABASE_URL` is set) PostgreSQL.

use crate::app::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn add_product(app: &TestApp, token: &str, title: &str, category: &str, price_fen: i64) -> i64 {
    let body =
        json!({"title": title, "category": category, "kind": "standard", "price_fen": price_fen, "max_per_order": 5});
    let res = app.api("POST", "/api/v1/merchant/products", Some(token), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()["id"].as_i64().unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

async fn search_scenario(app: &TestApp) {
    let (token, first) = app.merchant_with_product("search_m").await;
    let card = add_product(app, &token, "网易一卡通点卡 100 元", "game_card", 10_000).await;
    let gift = add_product(app, &token, "京东礼品卡 50 元", "gift_card", 5_000).await;
    let phone = add_product(app, &token, "移动话费充值 30 元", "top_up", 3_000).await;

    // Two characters from the middle of a Chinese title.
    let page = app.get(&format!("/api/v1/catalog?q={}", enc("点卡"))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let found = ids(&page.json());
    assert!(found.contains(&card) && found.contains(&first), "{found:?}");
    assert!(!found.contains(&gift) && !found.contains(&phone));
    assert_eq!(found[0], first, "relevance: a title starting with the query comes first");
    let html = app.get(&format!("/?q={}", enc("一卡通"))).await;
    assert!(html.body.contains("网易一卡通点卡 100 元") && !html.body.contains("京东礼品卡"), "{}", html.body);

    // Category filter, in the API and on the page.
    assert_eq!(ids(&app.get("/api/v1/catalog?category=gift_card").await.json()), vec![gift]);
    let html = app.get("/?category=top_up").await;
    assert!(html.body.contains("移动话费充值") && !html.body.contains("京东礼品卡"));
    assert!(html.body.contains("话费充值") && html.body.contains("礼品卡"), "categories in the menu");

    // Sorts.
    let asc = ids(&app.get("/api/v1/catalog?sort=price_asc").await.json());
    assert_eq!(asc, vec![first, phone, gift, card]);
    let desc = ids(&app.get("/api/v1/catalog?sort=price_desc").await.json());
    assert_eq!(desc, vec![card, gift, phone, first]);
    assert_eq!(ids(&app.get("/api/v1/catalog").await.json()), vec![phone, gift, card, first], "newest by default");
    for sort in ["sales", "trust", "relevance"] {
        let res = app.get(&format!("/api/v1/catalog?sort={sort}")).await;
        assert_eq!((res.status, ids(&res.json()).len()), (StatusCode::OK, 4), "{sort}: {}", res.body);
    }

    // Bad input names its field and changes nothing.
    for (path, field) in [
        ("/api/v1/catalog?sort=cheapest".to_string(), "sort"),
        ("/api/v1/catalog?category=weapons".into(), "category"),
        ("/api/v1/catalog?cursor=garbage".into(), "cursor"),
        ("/api/v1/catalog?limit=101".into(), "limit"),
        (format!("/api/v1/catalog?q={}", enc(&"长".repeat(65))), "q"),
    ] {
        let res = app.get(&path).await;
        assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{path}");
    }
    let html = app.get("/?sort=cheapest").await;
    assert_eq!(html.status, StatusCode::BAD_REQUEST);
    assert!(html.body.contains("排序方式"), "{}", html.body);
}

#[tokio::test]
async fn search_finds_a_chinese_product_by_two_characters_sqlite() {
    search_scenario(&TestApp::new().await).await;
}

#[tokio::test]
async fn search_finds_a_chinese_product_by_two_characters_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    search_scenario(&app).await;
}

async fn pages_scenario(app: &TestApp) {
    let (token, first) = app.merchant_with_product("pager_m").await;
    let mut expected: HashSet<i64> = HashSet::from([first]);
    for i in 0..6 {
        expected.insert(add_product(app, &token, &format!("月卡 {i}"), "membership_account", 500 + i * 100).await);
    }
    for sort in ["newest", "price_asc", "price_desc"] {
        let mut seen: Vec<i64> = Vec::new();
        let mut url = format!("/api/v1/catalog?sort={sort}&limit=2");
        let mut n = 0;
        loop {
            let page = app.get(&url).await.json();
            seen.extend(ids(&page));
            // Someone lists a product between every two page fetches.
            add_product(app, &token, &format!("新品 {sort} {n}"), "custom", 100).await;
            n += 1;
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("/api/v1/catalog?sort={sort}&limit=2&cursor={c}"),
                None => break,
            }
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no duplicates in {seen:?}");
        assert!(expected.is_subset(&unique), "{sort}: no gaps, {expected:?} ⊄ {seen:?}");
        // The products added at the cheapest price show up in the ascending sort only where the cursor had not
        // passed yet; what was listed before the first page is always there exactly once.
        expected = unique;
    }
    let html = app.get("/?sort=price_asc").await;
    assert!(html.body.contains("id=\"next-page\""), "a next-page link past 24 items");
}

#[tokio::test]
async fn cursor_pages_have_no_duplicates_or_gaps_while_products_are_added_sqlite() {
    pages_scenario(&TestApp::new().await).await;
}

#[tokio::test]
async fn cursor_pages_have_no_duplicates_or_gaps_while_products_are_added_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    pages_scenario(&app).await;
}

fn multipart_picture(bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kabao-picture-boundary-51f0";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"p.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, token: &str, product: i64, bytes: &[u8]) -> crate::app::Res {
    let (content_type, body) = multipart_picture(bytes);
    let req = Request::post(format!("/api/v1/merchant/products/{product}/pictures"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

/// A JPEG carrying an EXIF segment (with a GPS-like marker text) right after its start-of-image marker.
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let mut payload = b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0".to_vec();
    payload.extend_from_slice(b"KABAO-GPS-31.2304N-121.4737E");
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn pictures_scenario(app: &TestApp) {
    let (token, product) = app.merchant_with_product("pic_m").await;
    let original = jpeg_with_exif(64, 48);
    assert!(original.windows(4).any(|w| w == b"Exif"), "the test picture carries EXIF");

    let res = upload(app, &token, product, &original).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let pic = res.json()[0].clone();
    assert_eq!((pic["width"].as_i64(), pic["height"].as_i64()), (Some(64), Some(48)));
    let url = pic["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/media/") && url.ends_with(".jpg"), "{url}");

    // Served re-encoded: no EXIF, no marker; cached for a year, with an ETag that answers 304.
    let (status, headers, bytes) = app.get_bytes(&url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "EXIF stripped");
    assert!(!bytes.windows(9).any(|w| w == b"KABAO-GPS"), "metadata stripped");
    assert!(image::load_from_memory(&bytes).is_ok(), "still a picture");
    use sha2::Digest;
    assert_eq!(url, format!("/media/{}.jpg", hex::encode(sha2::Sha256::digest(&bytes))), "stored by content hash");
    let req = Request::get(&url).header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::NOT_MODIFIED);
    assert_eq!(app.get("/media/00.jpg").await.status, StatusCode::NOT_FOUND);

    // Shown on the product page and the catalog card with its size.
    let html = app.get(&format!("/p/{product}")).await.body;
    assert!(html.contains(&format!("src=\"{url}\" width=\"64\" height=\"48\"")), "{html}");
    let html = app.get("/").await.body;
    assert!(html.contains(&format!("src=\"{url}\" width=\"64\" height=\"48\"")), "{html}");
    let listed = app.get(&format!("/api/v1/products/{product}/pictures")).await.json();
    assert_eq!(listed[0]["url"], url.as_str());

    // Refused: not a picture (whatever it is called), too large, too many pixels, another merchant's product.
    let res = upload(app, &token, product, b"GIF89a not really, and not allowed anyway").await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("picture.type")));
    let res = upload(app, &token, product, b"just text named p.jpg").await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("picture")));
    let mut huge = original.clone();
    huge.resize(5 * 1024 * 1024 + 1, 0);
    let res = upload(app, &token, product, &huge).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    let mut wide = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::new(4097, 1))
        .write_to(&mut std::io::Cursor::new(&mut wide), image::ImageFormat::Png)
        .unwrap();
    let res = upload(app, &token, product, &wide).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("picture.dimensions")));
    let (other, _) = app.merchant_with_product("pic_other").await;
    assert_eq!(upload(app, &other, product, &original).await.status, StatusCode::NOT_FOUND);

    // Ordered, at most five; a second picture made the cover; removing one.
    let second =
        upload(app, &token, product, &jpeg_with_exif(20, 10)).await.json()[1]["hash"].as_str().unwrap().to_string();
    let first_hash = pic["hash"].as_str().unwrap().to_string();
    let path = format!("/api/v1/merchant/products/{product}/pictures");
    let res = app.api("PUT", &path, Some(&token), Some(json!({"hashes": [second, first_hash]}))).await;
    assert_eq!(res.json()[0]["hash"], second.as_str(), "{}", res.body);
    let res = app.api("PUT", &path, Some(&other), Some(json!({"hashes": [second]}))).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.api("PUT", &path, Some(&token), Some(json!({"hashes": ["ab".repeat(32)]}))).await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("hashes")));
    for i in 0..3 {
        let res = upload(app, &token, product, &jpeg_with_exif(10 + i, 10)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let res = upload(app, &token, product, &jpeg_with_exif(40, 10)).await;
    assert_eq!((res.status, res.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("picture.too_many")));
    let res = app.api("PUT", &path, Some(&token), Some(json!({"hashes": [first_hash]}))).await;
    assert_eq!(res.json().as_array().map(Vec::len), Some(1), "the others are removed");
}

#[tokio::test]
async fn pictures_are_checked_reencoded_without_metadata_and_cached_sqlite() {
    pictures_scenario(&TestApp::new().await).await;
}

#[tokio::test]
async fn pictures_are_checked_reencoded_without_metadata_and_cached_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    pictures_scenario(&app).await;
}

/// A listing with variants sorts by the cheapest of its listed variants, shows "¥x 起" / "from ¥x", and is bought
/// only through a variant: ordering the listing itself is refused with a stable code, in Chinese and English.
async fn variants_scenario(app: &TestApp) {
    let (token, parent) = app.merchant_with_product("vlist_m").await; // 点卡 10 元 at ¥9.90
    let mid = add_product(app, &token, "京东礼品卡 7 元", "gift_card", 700).await;
    let add = |label: &'static str, price_fen: i64| {
        let token = token.clone();
        async move {
            let res = app
                .api(
                    "POST",
                    &format!("/api/v1/merchant/products/{parent}/variants"),
                    Some(&token),
                    Some(json!({"label": label, "price_fen": price_fen})),
                )
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res.json()["product_id"].as_i64().unwrap()
        }
    };
    let cheap = add("5元", 500).await;
    add("50元", 4850).await;
    app.import(&token, cheap, "VL-1\nVL-2\n").await;

    // Sorted by its cheapest variant (¥5.00), below the ¥7.00 product, not by its own ¥9.90.
    let page = app.get("/api/v1/catalog?sort=price_asc").await.json();
    assert_eq!(ids(&page), vec![parent, mid], "{page}");
    assert_eq!(page["items"][0]["from_price_fen"], 500, "{page}");
    assert_eq!(page["items"][1]["from_price_fen"], Value::Null, "a product without variants: its own price");
    assert_eq!(ids(&app.get("/api/v1/catalog?sort=price_desc").await.json()), vec![mid, parent]);
    let q = enc("点卡");
    let found = app.get(&format!("/api/v1/catalog?q={q}&sort=price_asc")).await.json();
    assert_eq!(found["items"][0]["from_price_fen"], 500, "a search sorts and shows the same: {found}");
    let html = app.get("/?sort=price_asc").await;
    assert!(html.body.contains("¥5.00 起"), "{}", html.body);
    let req = Request::get("/?sort=price_asc").header(header::ACCEPT_LANGUAGE, "en").body(Body::empty()).unwrap();
    assert!(app.send(req).await.body.contains("from ¥5.00"));

    // The listing itself cannot be bought: its variants can.
    let buyer = crate::orders::buyer(app, "vlist_b").await;
    let body = json!({"product_id": parent, "quantity": 1, "warranty_ack": true});
    let res = crate::orders::order(app, Some(&buyer), body.clone(), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(
        (res.json()["code"].clone(), res.json()["field"].clone()),
        (json!("order.choose_variant"), json!("product"))
    );
    assert!(res.json()["message"].as_str().unwrap().contains("规格"), "{}", res.body);
    let req = Request::post("/api/v1/orders")
        .header(header::AUTHORIZATION, format!("Bearer {buyer}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::from(
            json!({"product_id": parent, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true})
                .to_string(),
        ))
        .unwrap();
    let res = app.send(req).await;
    assert!(res.json()["message"].as_str().unwrap().contains("variant"), "{}", res.body);
    let bought = crate::orders::order(
        app,
        Some(&buyer),
        json!({"product_id": cheap, "quantity": 1, "warranty_ack": true}),
        None,
    )
    .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.body);

    // Taking the cheapest variant off the listing moves the listing to its next price.
    let res = app.api("DELETE", &format!("/api/v1/merchant/variants/{cheap}"), Some(&token), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let page = app.get("/api/v1/catalog?sort=price_asc").await.json();
    assert_eq!(ids(&page), vec![mid, parent], "{page}");
    assert_eq!(page["items"][1]["from_price_fen"], 4850);
}

#[tokio::test]
async fn a_listing_with_variants_sorts_from_its_cheapest_and_is_bought_through_one_sqlite() {
    variants_scenario(&TestApp::new().await).await;
}

#[tokio::test]
async fn a_listing_with_variants_sorts_from_its_cheapest_and_is_bought_through_one_postgres() {
    let Some(app) = TestApp::postgres().await else { return };
    variants_scenario(&app).await;
}

/// A new shop is stored with the score its empty record gets (not 0) when it opens, so the trust sort places it
/// where the hourly review will, instead of last until then. The stored score is the trust sort's key, which
/// the page's cursor carries.
#[tokio::test]
async fn a_new_shop_sorts_by_the_score_of_its_empty_record_before_the_first_review() {
    use kabao_core::search::{Cursor, ListingSort};
    let app = TestApp::new().await;
    let (_, first) = app.merchant_with_product("fresh_a").await;
    app.merchant_with_product("fresh_b").await;
    let page = app.get("/api/v1/catalog?sort=trust&limit=1").await.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    let cursor = Cursor::decode(page["next_cursor"].as_str().unwrap(), ListingSort::Trust).unwrap();
    let shop_id = kabao_core::ShopId(page["items"][0]["shop_id"].as_i64().unwrap());
    let shop = kabao_app::shops::public_shop(&app.state, shop_id, None).await.unwrap();
    let now = kabao_app::trust::of_shop(&app.state, &shop).await.unwrap().score;
    assert!(now > 0, "a shop with no history is not scored 0");
    assert_eq!(cursor.key, i64::from(now), "stored at opening as computed now");
    assert_eq!(page["items"][0]["trust_score"], now);
    let second = app.get(&format!("/api/v1/catalog?sort=trust&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(ids(&second.json()), vec![first], "{}", second.body);
}
