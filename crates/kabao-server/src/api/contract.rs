//! The API contract's shared parts: the one `Error` body, the enumerations (built from the domain's own lists, so
//! the document cannot drift from what the code accepts), and the [`Contract`] modifier that gives every
//! operation the refusals the extractors produce for it (bad path → 404, bad query/body → 400, too large → 413,
//! wrong content type → 415, no or bad token → 401, wrong role → 403, internal → 500), each with the `Error` body.
//! A handler lists the refusals of its own rules (409 already decided, 402 balance too low, ...) in its
//! `#[utoipa::path]`; [`Contract`] fills in their body.

use std::borrow::Cow;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};

/// The body of every refusal.
#[derive(utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// The stable machine code, e.g. `order.not_found`, `request.invalid_body`.
    #[schema(example = "order.not_found")]
    pub error: String,
    /// The same value as `error`, kept for clients written before `error` existed.
    #[deprecated(note = "read `error`")]
    pub code: String,
    /// What went wrong, in the request's language (zh-CN unless `Accept-Language` or the `lang` cookie asks
    /// for English).
    pub message: String,
    /// The field, parameter or header at fault, when one is; absent otherwise.
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// The request's id (the `X-Request-Id` response header): quote it to support.
    #[schema(nullable = false, example = "4f1c2a9e0b7d43e8a6c5f2d1e0b9a8c7")]
    pub request_id: Option<String>,
}

/// A string enumeration whose values come from the domain's own list.
macro_rules! string_enum {
    ($(#[doc = $doc:literal])* $ty:ident, $name:literal, $values:expr) => {
        $(#[doc = $doc])*
        pub struct $ty;

        impl $ty {
            pub fn values() -> Vec<&'static str> {
                $values
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let description = [$($doc),*].join("\n").trim().to_string();
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($ty::values()))
                    .description(Some(description).filter(|d| !d.is_empty()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

use kabao_core::catalog::{Category, CertificationLevel, GoodsKind};
use kabao_core::claim::ClaimState;
use kabao_core::order::OrderState;
use kabao_core::review::ReviewTag;
use kabao_core::trust::TrustLevel;
use kabao_core::user::Role;
use kabao_core::warranty::{Defect, EvidenceKind};

string_enum!(
    /// A user's role.
    RoleName, "Role", Role::ALL.iter().map(|r| r.as_str()).collect());
string_enum!(
    /// An order's state.
    OrderStateName, "OrderState", OrderState::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A shop's certification level.
    CertificationName, "CertificationLevel", CertificationLevel::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A product's category.
    CategoryName, "Category", Category::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// How a product is delivered: standard (card keys), shared (one secret, 循环卡密), custom (by hand, 人工交付).
    GoodsKindName, "GoodsKind", GoodsKind::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// The defect a claim is about.
    DefectName, "Defect", Defect::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// The kind of a piece of evidence.
    EvidenceKindName, "EvidenceKind", EvidenceKind::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A claim's state.
    ClaimStateName, "ClaimState", ClaimState::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A shop's trust level.
    TrustLevelName, "TrustLevel", TrustLevel::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A review tag.
    ReviewTagName, "ReviewTag", ReviewTag::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A card key's state.
    KeyStateName, "KeyState", vec!["available", "sold", "voided"]);
string_enum!(
    /// A withdrawal's state.
    WithdrawalStateName, "WithdrawalState", vec!["pending", "approved", "rejected"]);
string_enum!(
    /// Who added a piece of evidence, or made a statement.
    PartyName, "Party", vec!["buyer", "merchant", "arbiter"]);
string_enum!(
    /// The order of a product listing: newest first (default) or by the shop's trust score.
    ListingSortName, "ListingSort", vec!["newest", "trust"]);
string_enum!(
    /// The order of a catalog page (`/api/v1/catalog`): relevance is the default with a search, newest without.
    CatalogSortName, "CatalogSort", kabao_core::search::ListingSort::ALL.iter().map(|s| s.as_str()).collect());
string_enum!(
    /// A merchant's answer to a claim: approve (runs the remedy now), reject (needs `reason`), ask_evidence
    /// (once; needs `note`).
    ClaimDecisionName, "ClaimDecision", vec!["approve", "reject", "ask_evidence"]);
string_enum!(
    /// An arbiter's ruling: force_reissue, refund (needs `refund_fen`) or reject.
    RulingName, "Ruling", vec!["force_reissue", "refund", "reject"]);
string_enum!(
    /// An admin's decision on a certification application.
    ApprovalName, "Approval", vec!["approve", "reject"]);
string_enum!(
    /// The level a merchant may apply for (gold is granted from the record, not applied for).
    ApplicationLevelName, "ApplicationLevel", vec!["verified", "enterprise"]);
string_enum!(
    /// A certification application's state.
    ApplicationStateName, "ApplicationState", vec!["pending", "approved", "rejected"]);
string_enum!(
    /// An admin's finding on a shop's risk events: confirmed (they stand) or dismissed (false alarms).
    RiskOutcomeName, "RiskOutcome", vec!["confirmed", "dismissed"]);
string_enum!(
    /// A risk event's state.
    RiskStateName, "RiskState", vec!["open", "confirmed", "dismissed"]);
string_enum!(
    /// A dispute's state.
    DisputeStateName, "DisputeState", vec!["open", "decided"]);

string_enum!(
    /// A warranty policy template's id.
    WarrantyTemplateName, "WarrantyTemplate", kabao_core::warranty::templates().iter().map(|t| t.id).collect());
string_enum!(
    /// What became of a gateway notification: applied, or duplicate (acknowledged, nothing done).
    NotifyStatusName, "NotifyStatus", vec!["applied", "duplicate", "ignored"]);

/// A custom product's field label: 1–30 characters, no line breaks, no spaces at either end.
pub struct FieldLabelName;

impl utoipa::PartialSchema for FieldLabelName {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(30))
            .pattern(Some(r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"))
            .into()
    }
}

impl utoipa::ToSchema for FieldLabelName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FieldLabel")
    }
}

/// A custom product's field labels: 1–5 distinct [`FieldLabelName`]s.
pub fn field_labels() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(Ref::from_schema_name("FieldLabel"))
        .min_items(Some(1))
        .max_items(Some(5))
        .unique_items(true)
        .description(Some("1–5 distinct labels, e.g. \"游戏账号\", \"区服\"; all are required of the buyer."))
        .build()
}

/// A card-key file: UTF-8 text, one key per line (or `卡号----密码`), with at least one line that is not blank.
pub struct KeyFile;

impl utoipa::PartialSchema for KeyFile {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .pattern(Some(r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"))
            .description(Some(
                "One key per line (or 卡号----密码); at least one line that is not blank; at most 16 MiB.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for KeyFile {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("KeyFile")
    }
}

/// A flag that must be `true` (an acknowledgement).
pub struct AcceptedFlag;

impl utoipa::PartialSchema for AcceptedFlag {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Boolean)
            .enum_values(Some([true]))
            .description(Some("Must be true: the caller acknowledges the terms."))
            .into()
    }
}

impl utoipa::ToSchema for AcceptedFlag {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Acknowledgement")
    }
}

/// The dashboard's window in days: one of the history module's own list (7, 30, 90).
pub struct DashboardDays;

impl utoipa::PartialSchema for DashboardDays {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
            .enum_values(Some(kabao_app::history::DASHBOARD_DAYS))
            .description(Some("The window in days: 7, 30 or 90."))
            .into()
    }
}

impl utoipa::ToSchema for DashboardDays {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DashboardDays")
    }
}

/// Paths under which only one role may call (merchant, arbiter, admin): any other role is refused with 403.
const ROLE_GATED: [&str; 3] = ["/api/v1/merchant/", "/api/v1/arbiter/", "/api/v1/admin/"];

/// Completes every operation's refusals; see the module documentation.
pub struct Contract;

/// The enumerations, so a parameter (which utoipa does not follow into components) can refer to them too.
fn enumerations() -> Vec<(Cow<'static, str>, RefOr<Schema>)> {
    use utoipa::{PartialSchema, ToSchema};
    macro_rules! all {
        ($($ty:ty),*) => { vec![$((<$ty>::name(), <$ty>::schema())),*] };
    }
    all!(
        RoleName,
        OrderStateName,
        CertificationName,
        CategoryName,
        GoodsKindName,
        DefectName,
        EvidenceKindName,
        ClaimStateName,
        TrustLevelName,
        ReviewTagName,
        KeyStateName,
        WithdrawalStateName,
        PartyName,
        ListingSortName,
        CatalogSortName,
        ClaimDecisionName,
        RulingName,
        ApprovalName,
        ApplicationLevelName,
        ApplicationStateName,
        RiskOutcomeName,
        RiskStateName,
        DisputeStateName,
        WarrantyTemplateName,
        NotifyStatusName,
        AcceptedFlag,
        FieldLabelName,
        DashboardDays,
        KeyFile
    )
}

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in enumerations() {
            components.schemas.entry(name.into_owned()).or_insert(schema);
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                complete(path, op);
            }
        }
    }
}

fn complete(path: &str, op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let content_types: Vec<String> =
        op.request_body.as_ref().map(|b| b.content.keys().cloned().collect()).unwrap_or_default();
    let secured = serde_json::to_value(&op.security).map(|s| s.to_string().contains("\"bearer\"")).unwrap_or(false);
    let mut add = |status: u16, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| ResponseBuilder::new().description(description).build().into());
    };
    if path.contains('{') {
        add(404, "No such resource, or not one the caller may see");
    }
    if has_query {
        add(400, "A query parameter is invalid; `field` names it");
    }
    if content_types.iter().any(|c| c == "application/json") {
        add(400, "The body is not valid JSON for this operation; `field` names the field at fault");
        add(415, "The body is not `application/json`");
    }
    if content_types.iter().any(|c| c == "multipart/form-data") {
        add(400, "The form cannot be read, or a field, file type or size is invalid; `field` names it");
    }
    if !content_types.is_empty() {
        add(413, "The body is over the operation's limit");
    }
    if secured {
        add(401, "No API token, or one that is unknown or revoked");
    }
    if ROLE_GATED.iter().any(|p| path.starts_with(p)) {
        add(403, "The caller's role may not do this");
    }
    add(500, "Internal error (logged; the message names nothing internal)");
    for (status, response) in op.responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            if response.content.is_empty() {
                response.content.insert(
                    "application/json".into(),
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ApiDoc;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use utoipa::OpenApi;

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serialises")
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push((m.to_string(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    fn refs(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.insert(r.trim_start_matches("#/components/schemas/").to_string());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// The names `ToSchema` types take in this crate's source (`#[schema(as = X)]` or the type's own name).
    /// utoipa keys schemas by name, so two types with one name would silently document one with the other.
    fn schema_names_in_source() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).expect("src readable").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut names = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("source readable");
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !(line.trim_start().starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                let mut alias = None;
                for next in &lines[i + 1..] {
                    let t = next.trim_start();
                    if let Some(rest) = t.strip_prefix("#[schema(as = ") {
                        alias = rest.split([')', ',']).next().map(str::to_string);
                    }
                    if let Some(rest) = t.strip_prefix("pub struct ").or(t.strip_prefix("pub enum ")) {
                        let own = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default();
                        let name = alias.take().unwrap_or_else(|| own.to_string());
                        names.push((name.rsplit("::").next().unwrap_or_default().to_string(), f.display().to_string()));
                        break;
                    }
                }
            }
        }
        names
    }

    #[test]
    fn schema_names_are_unique() {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, file) in schema_names_in_source() {
            seen.entry(name).or_default().push(file);
        }
        let dups: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
        assert!(dups.is_empty(), "schema names used by more than one type: {dups:?}");
        assert!(seen.contains_key("ClaimUpload") && seen.contains_key("Error"), "the scan finds the types");
    }

    #[test]
    fn every_referenced_schema_exists() {
        let d = doc();
        let mut used = BTreeSet::new();
        refs(&d, &mut used);
        let defined = d["components"]["schemas"].as_object().expect("schemas");
        let missing: Vec<_> = used.iter().filter(|r| !defined.contains_key(*r)).collect();
        assert!(missing.is_empty(), "referenced but not defined: {missing:?}");
    }

    #[test]
    fn path_parameters_are_exactly_the_templates_and_queries_are_queries() {
        for (m, path, op) in operations(&doc()) {
            let in_template: BTreeSet<String> =
                path.split('{').skip(1).filter_map(|s| s.split('}').next()).map(str::to_string).collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let documented: BTreeSet<String> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                .collect();
            assert_eq!(documented, in_template, "{m} {path}: path parameters must match the template");
            for p in &params {
                let name = p["name"].as_str().unwrap_or_default();
                if ["limit", "offset", "sort", "state"].contains(&name) {
                    assert_eq!(p["in"], "query", "{m} {path}: `{name}` is a query parameter");
                }
            }
        }
    }

    #[test]
    fn every_refusal_has_the_error_body() {
        for (m, path, op) in operations(&doc()) {
            let responses = op["responses"].as_object().expect("responses");
            assert!(responses.contains_key("500"), "{m} {path}: 500 documented");
            for (status, r) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                // The 易支付 notify answers the protocol's plain `fail`, not JSON.
                if path == "/api/v1/gateways/epay/notify" {
                    assert!(r["content"]["text/plain"].is_object(), "{m} {path} {status}: text/plain `fail`");
                    continue;
                }
                // Alipay's notify answers its plain `fail` too, except where Alipay is not configured (the Error).
                if path == "/api/v1/gateways/alipay/notify" && r["content"]["text/plain"].is_object() {
                    continue;
                }
                // WeChat Pay's notify answers its own `{"code":"FAIL",…}` when it wants the notification again.
                if path == "/api/v1/gateways/wechatpay/notify" && status == "500" {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/WechatPayAck",
                        "{m} {path} {status}: WeChat Pay's FAIL"
                    );
                    continue;
                }
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                    "{m} {path} {status}: the Error body"
                );
            }
        }
    }

    #[test]
    fn every_operation_that_can_fail_documents_how() {
        for (m, path, op) in operations(&doc()) {
            let responses = op["responses"].as_object().expect("responses");
            let has = |s: &str| responses.contains_key(s);
            if path.contains('{') {
                assert!(has("404"), "{m} {path}: a path that names something can be 404");
            }
            if op["requestBody"]["content"]["application/json"].is_object() {
                assert!(has("400") && has("413") && has("415"), "{m} {path}: a JSON body can be refused");
            }
            if op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query")) {
                assert!(has("400"), "{m} {path}: a query can be refused");
            }
            let secured = op["security"].to_string().contains("bearer");
            if secured {
                assert!(has("401"), "{m} {path}: a token can be missing or revoked");
            }
            if super::ROLE_GATED.iter().any(|p| path.starts_with(p)) {
                assert!(has("403"), "{m} {path}: another role is refused");
            }
            assert!(responses.keys().any(|s| s.starts_with('2')), "{m} {path}: a success is documented");
        }
    }

    #[test]
    fn the_error_schema_names_error_and_the_deprecated_code_alias() {
        let d = doc();
        let e = &d["components"]["schemas"]["Error"];
        let required: BTreeSet<&str> =
            e["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
        assert_eq!(required, BTreeSet::from(["error", "code", "message"]));
        assert_eq!(e["properties"]["code"]["deprecated"], true);
        assert!(e["properties"]["field"].is_object());
        assert!(e["properties"]["request_id"].is_object(), "error bodies may carry the request id");
    }

    #[test]
    fn the_epay_notify_is_documented_as_get_and_post() {
        let d = doc();
        let item = &d["paths"]["/api/v1/gateways/epay/notify"];
        assert!(item["get"].is_object() && item["post"].is_object());
        assert!(item["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    }

    #[test]
    fn evidence_uploads_have_their_own_schema() {
        let d = doc();
        for path in
            ["/api/v1/orders/{order_no}/claims/{claim_no}/evidence", "/api/v1/merchant/claims/{claim_no}/evidence"]
        {
            let schema = &d["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/EvidenceUpload", "{path}");
        }
    }

    #[test]
    fn enumerations_come_from_the_domain_lists() {
        use super::*;
        use utoipa::PartialSchema;
        let roles = serde_json::to_value(RoleName::schema()).expect("schema");
        assert_eq!(roles["enum"], serde_json::json!(["buyer", "merchant", "arbiter", "admin"]));
        for s in KeyStateName::values() {
            assert!(kabao_store::KeyState::parse(s).is_some(), "{s}");
        }
        for s in WithdrawalStateName::values() {
            assert!(kabao_store::WithdrawalState::parse(s).is_some(), "{s}");
        }
        for s in ListingSortName::values() {
            assert!(kabao_app::trust::ListingOrder::parse(Some(s)).is_ok(), "{s}");
        }
    }
}
