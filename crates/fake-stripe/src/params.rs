//! Parameter tables copied from Stripe's OpenAPI description (spec3.yaml, API 2023-08-16):
//! which names each endpoint accepts, their types and enum values. They are data so that
//! holding them against the spec is a line-by-line read. Object-valued parameters our
//! service never sends are `Any` (accepted without looking inside).

/// What a leaf value must look like.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A string of at most this many characters.
    Text(usize),
    /// An integer within these bounds (inclusive).
    Int(i64, i64),
    /// Stripe's form booleans: `true` or `false`.
    Bool,
    /// One of the spec's enum values.
    Enum(&'static [&'static str]),
    /// Three lower-case letters (ISO 4217); our service promises lower case.
    Currency,
}

/// The shape below a parameter name.
#[derive(Debug)]
pub(crate) enum Node {
    Leaf(Kind),
    /// `name[field]…` with these fields only.
    Map(&'static [(&'static str, Node)]),
    /// `name[0]…` or `name[]`.
    List(&'static Node),
    /// `name[key]=value` with Stripe's metadata limits.
    Metadata,
    Any,
}

/// One endpoint's accepted parameters and the ones it cannot do without.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) params: &'static [(&'static str, Node)],
    pub(crate) required: &'static [&'static str],
}

/// Stripe's largest amount: eight digits of minor units ($999,999.99). It also keeps the
/// fake's sums far from overflow.
pub(crate) const AMOUNT_MAX: i64 = 99_999_999;

/// Stripe's metadata limits.
pub(crate) const METADATA_KEYS_MAX: usize = 50;
pub(crate) const METADATA_KEY_CHARS_MAX: usize = 40;
pub(crate) const METADATA_VALUE_CHARS_MAX: usize = 500;

const TEXT: Node = Node::Leaf(Kind::Text(5000));
const AMOUNT: Node = Node::Leaf(Kind::Int(1, AMOUNT_MAX));
const UNIT_AMOUNT: Node = Node::Leaf(Kind::Int(0, AMOUNT_MAX));
const NON_NEGATIVE: Node = Node::Leaf(Kind::Int(0, i64::MAX));
const BOOL: Node = Node::Leaf(Kind::Bool);
const CURRENCY: Node = Node::Leaf(Kind::Currency);
const DESCRIPTOR: Node = Node::Leaf(Kind::Text(22));
const EXPAND: Node = Node::List(&TEXT);

const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id",
    "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi",
    "zh", "zh-HK", "zh-TW",
];
const SOURCE_TYPES: &[&str] = &["bank_account", "card", "fpx"];
const WEEKDAYS: &[&str] = &["friday", "monday", "saturday", "sunday", "thursday", "tuesday", "wednesday"];

const PRODUCT_DATA: Node = Node::Map(&[
    ("description", Node::Leaf(Kind::Text(40000))),
    ("images", Node::Any),
    ("metadata", Node::Metadata),
    ("name", TEXT),
    ("tax_code", TEXT),
]);

const PRICE_DATA: Node = Node::Map(&[
    ("currency", CURRENCY),
    ("product", TEXT),
    ("product_data", PRODUCT_DATA),
    ("recurring", Node::Any),
    ("tax_behavior", Node::Leaf(Kind::Enum(&["exclusive", "inclusive", "unspecified"]))),
    ("unit_amount", UNIT_AMOUNT),
    ("unit_amount_decimal", TEXT),
]);

const LINE_ITEM: Node = Node::Map(&[
    ("adjustable_quantity", Node::Any),
    ("dynamic_tax_rates", Node::Any),
    ("price", TEXT),
    ("price_data", PRICE_DATA),
    ("quantity", Node::Leaf(Kind::Int(1, AMOUNT_MAX))),
    ("tax_rates", Node::Any),
]);

const PAYMENT_INTENT_DATA: Node = Node::Map(&[
    ("application_fee_amount", UNIT_AMOUNT),
    ("capture_method", Node::Leaf(Kind::Enum(&["automatic", "automatic_async", "manual"]))),
    ("description", Node::Leaf(Kind::Text(1000))),
    ("metadata", Node::Metadata),
    ("on_behalf_of", TEXT),
    ("receipt_email", TEXT),
    ("setup_future_usage", Node::Leaf(Kind::Enum(&["off_session", "on_session"]))),
    ("shipping", Node::Any),
    ("statement_descriptor", DESCRIPTOR),
    ("statement_descriptor_suffix", DESCRIPTOR),
    ("transfer_data", Node::Any),
    ("transfer_group", TEXT),
]);

/// `POST /v1/checkout/sessions`. The spec marks only `success_url` required (there is no
/// `ui_mode` in 2023-08-16); Stripe refuses a payment session without `mode` and
/// `line_items` at run time, so they are required here too.
pub(crate) const CREATE_SESSION: Endpoint = Endpoint {
    params: &[
        ("after_expiration", Node::Any),
        ("allow_promotion_codes", BOOL),
        ("automatic_tax", Node::Any),
        ("billing_address_collection", Node::Leaf(Kind::Enum(&["auto", "required"]))),
        ("cancel_url", TEXT),
        ("client_reference_id", Node::Leaf(Kind::Text(200))),
        ("consent_collection", Node::Any),
        ("currency", CURRENCY),
        ("custom_fields", Node::Any),
        ("custom_text", Node::Any),
        ("customer", TEXT),
        ("customer_creation", Node::Leaf(Kind::Enum(&["always", "if_required"]))),
        ("customer_email", TEXT),
        ("customer_update", Node::Any),
        ("discounts", Node::Any),
        ("expand", EXPAND),
        ("expires_at", NON_NEGATIVE),
        ("invoice_creation", Node::Any),
        ("line_items", Node::List(&LINE_ITEM)),
        ("locale", Node::Leaf(Kind::Enum(LOCALES))),
        ("metadata", Node::Metadata),
        ("mode", Node::Leaf(Kind::Enum(&["payment", "setup", "subscription"]))),
        ("payment_intent_data", PAYMENT_INTENT_DATA),
        ("payment_method_collection", Node::Leaf(Kind::Enum(&["always", "if_required"]))),
        ("payment_method_options", Node::Any),
        ("payment_method_types", Node::Any),
        ("phone_number_collection", Node::Any),
        ("setup_intent_data", Node::Any),
        ("shipping_address_collection", Node::Any),
        ("shipping_options", Node::Any),
        ("submit_type", Node::Leaf(Kind::Enum(&["auto", "book", "donate", "pay"]))),
        ("subscription_data", Node::Any),
        ("success_url", TEXT),
        ("tax_id_collection", Node::Any),
    ],
    required: &["mode", "line_items", "success_url"],
};

/// Endpoints whose only parameter is `expand` (retrievals, expire, cancel, balance).
pub(crate) const EXPAND_ONLY: Endpoint = Endpoint { params: &[("expand", EXPAND)], required: &[] };

/// `created[gt|gte|lt|lte]` of a list (the spec also allows a bare integer, which our
/// service never sends).
const CREATED_RANGE: Node =
    Node::Map(&[("gt", NON_NEGATIVE), ("gte", NON_NEGATIVE), ("lt", NON_NEGATIVE), ("lte", NON_NEGATIVE)]);

/// `GET /v1/balance_transactions` query.
pub(crate) const LIST_BALANCE_TRANSACTIONS: Endpoint = Endpoint {
    params: &[
        ("created", CREATED_RANGE),
        ("currency", CURRENCY),
        ("ending_before", TEXT),
        ("expand", EXPAND),
        ("limit", Node::Leaf(Kind::Int(1, 100))),
        ("payout", TEXT),
        ("source", TEXT),
        ("starting_after", TEXT),
        ("type", TEXT),
    ],
    required: &[],
};

/// `GET /v1/payment_intents/{intent}` query.
pub(crate) const GET_PAYMENT_INTENT: Endpoint =
    Endpoint { params: &[("client_secret", TEXT), ("expand", EXPAND)], required: &[] };

/// `POST /v1/refunds`; "payment_intent or charge" is checked in `rules`.
pub(crate) const CREATE_REFUND: Endpoint = Endpoint {
    params: &[
        ("amount", AMOUNT),
        ("charge", TEXT),
        ("currency", CURRENCY),
        ("customer", TEXT),
        ("expand", EXPAND),
        ("instructions_email", TEXT),
        ("metadata", Node::Metadata),
        ("origin", Node::Leaf(Kind::Enum(&["customer_balance"]))),
        ("payment_intent", TEXT),
        ("reason", Node::Leaf(Kind::Enum(&["duplicate", "fraudulent", "requested_by_customer"]))),
        ("refund_application_fee", BOOL),
        ("reverse_transfer", BOOL),
    ],
    required: &[],
};

const CAPABILITY: Node = Node::Map(&[("requested", BOOL)]);

const CAPABILITIES: Node = Node::Map(&[
    ("acss_debit_payments", CAPABILITY),
    ("affirm_payments", CAPABILITY),
    ("afterpay_clearpay_payments", CAPABILITY),
    ("au_becs_debit_payments", CAPABILITY),
    ("bacs_debit_payments", CAPABILITY),
    ("bancontact_payments", CAPABILITY),
    ("bank_transfer_payments", CAPABILITY),
    ("blik_payments", CAPABILITY),
    ("boleto_payments", CAPABILITY),
    ("card_issuing", CAPABILITY),
    ("card_payments", CAPABILITY),
    ("cartes_bancaires_payments", CAPABILITY),
    ("cashapp_payments", CAPABILITY),
    ("eps_payments", CAPABILITY),
    ("fpx_payments", CAPABILITY),
    ("giropay_payments", CAPABILITY),
    ("grabpay_payments", CAPABILITY),
    ("ideal_payments", CAPABILITY),
    ("india_international_payments", CAPABILITY),
    ("jcb_payments", CAPABILITY),
    ("klarna_payments", CAPABILITY),
    ("konbini_payments", CAPABILITY),
    ("legacy_payments", CAPABILITY),
    ("link_payments", CAPABILITY),
    ("oxxo_payments", CAPABILITY),
    ("p24_payments", CAPABILITY),
    ("paynow_payments", CAPABILITY),
    ("promptpay_payments", CAPABILITY),
    ("sepa_debit_payments", CAPABILITY),
    ("sofort_payments", CAPABILITY),
    ("tax_reporting_us_1099_k", CAPABILITY),
    ("tax_reporting_us_1099_misc", CAPABILITY),
    ("transfers", CAPABILITY),
    ("treasury", CAPABILITY),
    ("us_bank_account_ach_payments", CAPABILITY),
    ("zip_payments", CAPABILITY),
]);

const PAYOUT_SCHEDULE: Node = Node::Map(&[
    ("delay_days", TEXT),
    ("interval", Node::Leaf(Kind::Enum(&["daily", "manual", "monthly", "weekly"]))),
    ("monthly_anchor", Node::Leaf(Kind::Int(1, 31))),
    ("weekly_anchor", Node::Leaf(Kind::Enum(WEEKDAYS))),
]);

const ACCOUNT_SETTINGS: Node = Node::Map(&[
    ("branding", Node::Any),
    ("card_issuing", Node::Any),
    ("card_payments", Node::Any),
    ("payments", Node::Any),
    (
        "payouts",
        Node::Map(&[("debit_negative_balances", BOOL), ("schedule", PAYOUT_SCHEDULE), ("statement_descriptor", DESCRIPTOR)]),
    ),
    ("treasury", Node::Any),
]);

/// `POST /v1/accounts`. `type` is required because 2023-08-16 has no `controller`.
pub(crate) const CREATE_ACCOUNT: Endpoint = Endpoint {
    params: &[
        ("account_token", TEXT),
        ("bank_account", Node::Any),
        ("business_profile", Node::Any),
        ("business_type", Node::Leaf(Kind::Enum(&["company", "government_entity", "individual", "non_profit"]))),
        ("capabilities", CAPABILITIES),
        ("company", Node::Any),
        ("country", TEXT),
        ("default_currency", CURRENCY),
        ("documents", Node::Any),
        ("email", TEXT),
        ("expand", EXPAND),
        ("external_account", Node::Any),
        ("individual", Node::Any),
        ("metadata", Node::Metadata),
        ("settings", ACCOUNT_SETTINGS),
        ("tos_acceptance", Node::Any),
        ("type", Node::Leaf(Kind::Enum(&["custom", "express", "standard"]))),
    ],
    required: &["type"],
};

/// `POST /v1/account_links`. Stripe needs both URLs at run time though the spec does not say so.
pub(crate) const CREATE_ACCOUNT_LINK: Endpoint = Endpoint {
    params: &[
        ("account", TEXT),
        ("collect", Node::Leaf(Kind::Enum(&["currently_due", "eventually_due"]))),
        ("expand", EXPAND),
        ("refresh_url", TEXT),
        ("return_url", TEXT),
        ("type", Node::Leaf(Kind::Enum(&["account_onboarding", "account_update"]))),
    ],
    required: &["account", "type", "refresh_url", "return_url"],
};

/// `POST /v1/transfers`.
pub(crate) const CREATE_TRANSFER: Endpoint = Endpoint {
    params: &[
        ("amount", AMOUNT),
        ("currency", CURRENCY),
        ("description", TEXT),
        ("destination", TEXT),
        ("expand", EXPAND),
        ("metadata", Node::Metadata),
        ("source_transaction", TEXT),
        ("source_type", Node::Leaf(Kind::Enum(SOURCE_TYPES))),
        ("transfer_group", TEXT),
    ],
    required: &["amount", "currency", "destination"],
};

/// `POST /v1/transfers/{id}/reversals`.
pub(crate) const CREATE_REVERSAL: Endpoint = Endpoint {
    params: &[
        ("amount", AMOUNT),
        ("description", TEXT),
        ("expand", EXPAND),
        ("metadata", Node::Metadata),
        ("refund_application_fee", BOOL),
    ],
    required: &[],
};

/// `POST /v1/payouts`.
pub(crate) const CREATE_PAYOUT: Endpoint = Endpoint {
    params: &[
        ("amount", AMOUNT),
        ("currency", CURRENCY),
        ("description", TEXT),
        ("destination", TEXT),
        ("expand", EXPAND),
        ("metadata", Node::Metadata),
        ("method", Node::Leaf(Kind::Enum(&["instant", "standard"]))),
        ("source_type", Node::Leaf(Kind::Enum(SOURCE_TYPES))),
        ("statement_descriptor", DESCRIPTOR),
    ],
    required: &["amount", "currency"],
};
