//! `/{locale}/admin/splits`: the split rules with create, edit and delete, and a
//! fee calculator; each through the gRPC SplitService's use case.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::fees::{SplitRule, SplitRuleInput, SplitRuleType, SplitRuleUpdate};
use serde::Deserialize;

use super::{ObjectPath, Operator, PAGE_SIZE};
use crate::Pages;
use crate::forms::FieldErrors;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::routes::{InLocale, PageParams};
use crate::session::{CsrfForm, WithCsrf};

/// The rule form's fields, as typed.
#[derive(Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    active: Option<String>,
}

impl WithCsrf for RuleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl RuleForm {
    fn of(rule: &SplitRule) -> Self {
        Self {
            csrf: String::new(),
            name: rule.name.clone(),
            account: rule.connected_account_id.map(|id| id.to_string()).unwrap_or_default(),
            kind: rule.rule_type.as_str().to_owned(),
            value: rule.value.to_string(),
            priority: rule.priority.to_string(),
            currency: rule.currency.map(|c| c.code().to_owned()).unwrap_or_default(),
            min: rule.min_amount.map(|d| d.to_string()).unwrap_or_default(),
            max: rule.max_amount.map(|d| d.to_string()).unwrap_or_default(),
            active: rule.is_active.then(|| "on".to_owned()),
        }
    }

    /// The text inputs: name, label key, value, hint key (empty for none).
    fn fields(&self) -> Vec<Field> {
        vec![
            ("name", "console.rule_name", self.name.clone(), ""),
            ("value", "console.rule_value", self.value.clone(), "console.rule_value_hint"),
            ("priority", "console.rule_priority", self.priority.clone(), ""),
            ("min", "console.rule_min", self.min.clone(), ""),
            ("max", "console.rule_max", self.max.clone(), ""),
        ]
    }

    /// A priority that is no number is the use case's to refuse, by name.
    fn priority(&self) -> Result<i32, app::AppError> {
        match self.priority.trim() {
            "" => Ok(0),
            text => text.parse().map_err(|_| domain::FieldError::new("priority", "must be a whole number").into()),
        }
    }
}

type Field = (&'static str, &'static str, String, &'static str);

#[derive(Deserialize, Default)]
pub struct FeeQuery {
    /// What the last form did (`created`, `saved`, `deleted`): said above the list.
    #[serde(default)]
    notice: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub account: String,
    pub kind: &'static str,
    pub value: String,
    pub priority: i32,
    pub active: bool,
}

pub struct Quote {
    pub fee: String,
    pub transfer: String,
    pub rule: String,
}

#[derive(Template)]
#[template(path = "admin/splits.html")]
struct SplitsPage {
    layout: Layout,
    notice: Option<&'static str>,
    acts: bool,
    rows: Vec<Row>,
    fields: Vec<Field>,
    form: RuleForm,
    errors: FieldErrors,
    fee: FeeQuery,
    quote: Option<Quote>,
    fee_errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/split.html")]
struct SplitPage {
    layout: Layout,
    acts: bool,
    /// The delete button was pressed once: the page asks to confirm.
    confirming: bool,
    id: String,
    fields: Vec<Field>,
    form: RuleForm,
    errors: FieldErrors,
}

/// The list's notices after a form, by the `?notice=` the form sent the browser to.
const NOTICES: [(&str, &str); 3] =
    [("created", "console.rule_created"), ("saved", "console.rule_saved"), ("deleted", "console.rule_deleted")];

fn listed(locale: Locale, notice: &str) -> Response {
    Redirect::to(&format!("/{}/admin/splits?notice={notice}", locale.code())).into_response()
}

const RENAMES: [(&str, &str); 3] = [("connected_account_id", "account"), ("min_amount", "min"), ("max_amount", "max")];

pub async fn list(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(fee): PageParams<FeeQuery>,
    operator: Operator,
) -> Response {
    render_list(&pages, locale, &operator, RuleForm::default(), FieldErrors::default(), fee).await
}

async fn render_list(
    pages: &Pages,
    locale: Locale,
    operator: &Operator,
    form: RuleForm,
    errors: FieldErrors,
    fee: FeeQuery,
) -> Response {
    let me = &operator.principal;
    let rules = match app::ports::Page::parse(PAGE_SIZE * 5, 0) {
        Ok(page) => pages.app.split_rules(me, "", page).await,
        Err(error) => Err(error.into()),
    };
    let rules = match rules {
        Ok((rules, _)) => rules,
        Err(error) => return layout::app_error(locale, error),
    };
    let (quote, fee_errors) = if fee.account.is_empty() && fee.amount.is_empty() {
        (None, FieldErrors::default())
    } else {
        let amount = fee.amount.trim().replace(',', ".");
        match pages.app.calculate_fee(me, fee.account.trim(), &amount, fee.currency.trim()).await {
            Ok(q) => (
                Some(Quote {
                    fee: money::format(q.fee, locale),
                    transfer: money::format(q.transfer_amount, locale),
                    rule: q.applied_rule.map_or_else(|| locale.t("console.no_rule").to_owned(), |r| r.rule_name),
                }),
                FieldErrors::default(),
            ),
            Err(error) => (
                None,
                FieldErrors::from_app(
                    error,
                    locale,
                    "fee_amount",
                    &[("connected_account_id", "fee_account"), ("amount", "fee_amount"), ("currency", "fee_currency")],
                ),
            ),
        }
    };
    let status = if errors.any() || fee_errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SplitsPage {
        layout: Layout::at(locale, "console.splits", &operator.csrf, Some(me), "/admin/splits"),
        acts: operator.acts,
        notice: NOTICES.into_iter().find(|(name, _)| *name == fee.notice).map(|(_, key)| key),
        rows: rules.iter().map(|r| row(r, locale)).collect(),
        fields: form.fields(),
        form,
        errors,
        fee,
        quote,
        fee_errors,
    };
    layout::render_with(status, &page)
}

fn row(rule: &SplitRule, locale: Locale) -> Row {
    Row {
        id: rule.id.to_string(),
        name: rule.name.clone(),
        account: rule.connected_account_id.map_or_else(|| locale.t("console.platform_wide").to_owned(), |id| id.to_string()),
        kind: locale.t(&format!("console.rule.{}", rule.rule_type.as_str())),
        value: match (rule.rule_type, rule.currency) {
            (SplitRuleType::Percentage, _) => format!("{} %", rule.value),
            (SplitRuleType::Fixed, Some(currency)) => format!("{} {}", rule.value, currency.code()),
            (SplitRuleType::Fixed, None) => rule.value.to_string(),
        },
        priority: rule.priority,
        active: rule.is_active,
    }
}

pub async fn create(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    operator: Operator,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    let created = match form.priority() {
        Ok(priority) => {
            let input = SplitRuleInput {
                name: form.name.trim().to_owned(),
                connected_account_id: form.account.trim().to_owned(),
                rule_type: SplitRuleType::from_str_opt(&form.kind),
                value: form.value.trim().replace(',', "."),
                priority,
                currency: form.currency.trim().to_owned(),
                min_amount: form.min.trim().replace(',', "."),
                max_amount: form.max.trim().replace(',', "."),
            };
            pages.app.create_split_rule(&operator.principal, input).await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(_) => listed(locale, "created"),
        Err(error) => {
            let errors = FieldErrors::from_app(error, locale, "form", &RENAMES);
            render_list(&pages, locale, &operator, form, errors, FeeQuery::default()).await
        }
    }
}

pub async fn edit(State(pages): State<Pages>, ObjectPath { locale, id }: ObjectPath, operator: Operator) -> Response {
    match pages.app.split_rule(&operator.principal, &id).await {
        Ok(rule) => render_rule(locale, &operator, &id, RuleForm::of(&rule), FieldErrors::default(), false),
        Err(error) => layout::app_error(locale, error),
    }
}

fn render_rule(locale: Locale, operator: &Operator, id: &str, form: RuleForm, errors: FieldErrors, confirming: bool) -> Response {
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SplitPage {
        layout: Layout::at(locale, "console.split", &operator.csrf, Some(&operator.principal), &format!("/admin/splits/{id}")),
        acts: operator.acts,
        confirming,
        id: id.to_owned(),
        fields: form.fields(),
        form,
        errors,
    };
    layout::render_with(status, &page)
}

pub async fn update(
    State(pages): State<Pages>,
    ObjectPath { locale, id }: ObjectPath,
    operator: Operator,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    let updated = match form.priority() {
        Ok(priority) => {
            let update = SplitRuleUpdate {
                name: Some(form.name.trim().to_owned()),
                value: Some(form.value.trim().replace(',', ".")),
                priority: Some(priority),
                is_active: Some(form.active.is_some()),
                min_amount: Some(form.min.trim().replace(',', ".")),
                max_amount: Some(form.max.trim().replace(',', ".")),
            };
            pages.app.update_split_rule(&operator.principal, &id, update).await
        }
        Err(error) => Err(error),
    };
    match updated {
        Ok(_) => listed(locale, "saved"),
        Err(error) => render_rule(locale, &operator, &id, form, FieldErrors::from_app(error, locale, "form", &RENAMES), false),
    }
}

#[derive(Deserialize, Default)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    /// `yes` from the confirmation step; without it the rule's page asks first.
    #[serde(default)]
    confirm: String,
}

impl WithCsrf for DeleteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn delete(
    State(pages): State<Pages>,
    ObjectPath { locale, id }: ObjectPath,
    operator: Operator,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    if form.confirm != "yes" {
        return match pages.app.split_rule(&operator.principal, &id).await {
            Ok(rule) => render_rule(locale, &operator, &id, RuleForm::of(&rule), FieldErrors::default(), true),
            Err(error) => layout::app_error(locale, error),
        };
    }
    match pages.app.delete_split_rule(&operator.principal, &id).await {
        Ok(()) => listed(locale, "deleted"),
        Err(error) => layout::app_error(locale, error),
    }
}
