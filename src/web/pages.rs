//! The pages: plain functions from a parsed request and the state to HTML.

use crate::finding::RuleId;
use std::sync::OnceLock;

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::i18n::{Lang, t};
use super::{Req, Viewer, WebState};
use crate::archive::{DocumentMeta, DocumentQuery, DocumentStore, Invalidation, StoreError};
use crate::deployment::{Recorded, checklist_a, checklist_b, recorded_from, report_due};
use crate::document::DocStatus;
use crate::rules::lifecycle::Actor;
use crate::server::Reply;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("home.html", include_str!("templates/home.html")),
    ("search.html", include_str!("templates/search.html")),
    ("document.html", include_str!("templates/document.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("result.html", include_str!("templates/result.html")),
    ("deployment.html", include_str!("templates/deployment.html")),
    ("report.html", include_str!("templates/report.html")),
    ("train.html", include_str!("templates/train.html")),
    ("onboarding.html", include_str!("templates/onboarding.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // An absent value is shown as nothing, not as "none".
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        for (name, text) in TEMPLATES {
            // The templates are part of the binary and a test renders every page: a broken
            // one fails the tests, never a user's request.
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(template = name, error = %e, "archivist view template");
            }
        }
        env
    })
}

struct Ctx<'a> {
    state: &'a WebState,
    req: &'a Req,
    org: String,
}

impl Ctx<'_> {
    fn q(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("org", &self.org)
            .append_pair("lang", self.req.lang.code())
            .finish()
    }

    /// Registers this archivist may see: the controller's own, and organisers' registers
    /// through a use right (`own` / `organiser` narrow it).
    fn registers(&self, scope: &str) -> Vec<String> {
        let today = time::OffsetDateTime::now_utc().date();
        self.state
            .register
            .readable_registers(&self.org, today)
            .into_iter()
            .filter(|r| match scope {
                "own" => *r == self.org,
                "organiser" => *r != self.org,
                _ => true,
            })
            .collect()
    }

    fn render(&self, status: u16, name: &str, title: &str, extra: Value) -> Reply {
        let lang = self.req.lang;
        let org_name = self
            .state
            .register
            .resolve(&self.org)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        let viewer = match &self.req.viewer {
            Viewer::Loopback => String::new(),
            Viewer::Professional {
                name, registration, ..
            } => format!("{name} ({registration})"),
        };
        let base = context! {
            lang => lang.code(),
            q => self.q(),
            q_org => form_urlencoded::Serializer::new(String::new()).append_pair("org", &self.org).finish(),
            org => self.org.clone(),
            org_name,
            viewer,
            page_title => title,
            csrf => self.req.csrf.clone(),
            t => Value::from_function(move |key: String| t(lang, &key)),
        };
        let ctx = context! { ..base, ..extra };
        match env().get_template(name).and_then(|tpl| tpl.render(ctx)) {
            Ok(body) => Reply::new(status, "text/html; charset=utf-8", body),
            Err(e) => Reply::new(
                500,
                "text/plain; charset=utf-8",
                format!("template {name}: {e}"),
            ),
        }
    }

    fn visible(&self, oid: &str) -> Result<Option<DocumentMeta>, StoreError> {
        let regs = self.registers("all");
        Ok(self
            .state
            .store
            .get(oid)?
            .filter(|m| regs.contains(&m.register_owner)))
    }
}

fn not_found(ctx: &Ctx<'_>, what: &str) -> Reply {
    ctx.render(
        404,
        "result.html",
        &t(ctx.req.lang, "none"),
        context! { ok => false, message => what, findings => Vec::<()>::new(), oid => "" },
    )
}

fn store_error(e: &StoreError) -> Reply {
    Reply::new(
        500,
        "text/plain; charset=utf-8",
        format!("archive store: {e}"),
    )
}

/// Routes one request.
pub(super) fn route(state: &WebState, req: &Req) -> Reply {
    let org = match &req.viewer {
        Viewer::Professional { org, .. } => org.clone(),
        Viewer::Loopback => req
            .query
            .get("org")
            .filter(|o| state.register.resolve(o).is_some())
            .cloned()
            .or_else(|| {
                state
                    .register
                    .organisations()
                    .iter()
                    .find(|o| o.active)
                    .map(|o| o.oid.clone())
            })
            .unwrap_or_default(),
    };
    let ctx = Ctx { state, req, org };
    // Kela gives the archivist view's address to an organisation with a Kanta archivist;
    // until one is named only the onboarding checklist (which says so) is open.
    if req.path != "/onboarding" && !state.onboarding.archivist_named(&ctx.org) {
        return ctx.render(
            403,
            "result.html",
            &t(req.lang, "onboarding"),
            context! {
                ok => false,
                message => format!(
                    "{} {}",
                    crate::lang::Tr {
                        fi: "Kukaan ei toimi organisaation Kanta-arkistonhoitajan roolissa, joten arkistonhoitajan näkymä ei ole käytettävissä. Nimeä rooli Kanta Ekstranetissä.",
                        sv: "Ingen har behörigheten Kanta-arkivarie i organisationen, så arkivariens vy är inte tillgänglig. Utse rollen i Kanta Extranätet.",
                        en: "Nobody holds the organisation's Kanta archivist role, so the archivist's view is not available. Name the role in Kanta Extranet.",
                    }
                    .get(req.lang),
                    ctx.org
                ),
            },
        );
    }
    let result = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => home(&ctx),
        ("GET", "/search") => search(&ctx),
        ("GET", "/document") => document(&ctx, None),
        ("GET", "/compare") => compare(&ctx),
        ("POST", "/invalidate") => invalidate(&ctx),
        ("GET" | "POST", "/deployment") => deployment(&ctx),
        ("GET", "/report") => report(&ctx),
        ("GET", "/train") => Ok(train(&ctx)),
        ("GET", "/onboarding") => Ok(onboarding(&ctx)),
        _ => Ok(not_found(&ctx, &format!("{} {}", req.method, req.path))),
    };
    result.unwrap_or_else(|e| store_error(&e))
}

fn home(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let orgs: Vec<Value> = ctx
        .state
        .register
        .organisations()
        .iter()
        .filter(|o| o.active)
        .map(|o| context! { oid => o.oid.clone(), name => o.name.clone() })
        .collect();
    let count = ctx
        .state
        .store
        .query(&DocumentQuery {
            registers: ctx.registers("all"),
            statuses: vec![
                DocStatus::Active,
                DocStatus::Replaced,
                DocStatus::Invalidated,
            ],
            limit: 1,
            ..DocumentQuery::default()
        })?
        .total;
    Ok(ctx.render(
        200,
        "home.html",
        &t(ctx.req.lang, "home"),
        context! {
            choose_org => matches!(ctx.req.viewer, Viewer::Loopback),
            organisations => orgs,
            count,
            data_dir => ctx.state.data_dir.clone(),
        },
    ))
}

#[derive(Serialize, Default)]
struct SearchForm {
    client: String,
    from: String,
    to: String,
    oid: String,
    case: String,
    relationship: String,
    r#type: String,
    status: String,
    register: String,
}

fn search(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let get = |k: &str| ctx.req.query.get(k).cloned().unwrap_or_default();
    let f = SearchForm {
        client: get("client"),
        from: get("from"),
        to: get("to"),
        oid: get("oid"),
        case: get("case"),
        relationship: get("relationship"),
        r#type: get("type"),
        status: ctx
            .req
            .query
            .get("status")
            .cloned()
            .unwrap_or_else(|| "all".into()),
        register: ctx
            .req
            .query
            .get("register")
            .cloned()
            .unwrap_or_else(|| "all".into()),
    };
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let mut error = None;
    let ts = |s: &str, end: bool| -> Option<String> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let padded = if s.len() == 8 && end {
            format!("{s}235959")
        } else {
            s.to_owned()
        };
        crate::document::model::hl7_ts_utc(&padded)
    };
    let (from, to) = (ts(&f.from, false), ts(&f.to, true));
    if (!f.from.trim().is_empty() && from.is_none()) || (!f.to.trim().is_empty() && to.is_none()) {
        error = Some("from / to: YYYYMMDD or YYYYMMDDHHMMSS±ZZZZ".to_owned());
    }
    let statuses = match f.status.as_str() {
        "active" => vec![DocStatus::Active],
        "replaced" => vec![DocStatus::Replaced],
        "invalidated" => vec![DocStatus::Invalidated],
        _ => vec![
            DocStatus::Active,
            DocStatus::Replaced,
            DocStatus::Invalidated,
        ],
    };
    // A document OID or a setId: both are tried.
    let mut q = DocumentQuery {
        registers: ctx.registers(&f.register),
        client_id: opt(&f.client),
        case_id: opt(&f.case),
        client_relationship: opt(&f.relationship),
        document_type: opt(&f.r#type),
        from_utc: from,
        to_utc: to,
        statuses,
        limit: 200,
        ..DocumentQuery::default()
    };
    let mut page = if let Some(o) = opt(&f.oid) {
        q.document_oid = Some(o.clone());
        let by_oid = ctx.state.store.query(&q)?;
        if by_oid.total > 0 {
            by_oid
        } else {
            q.document_oid = None;
            q.set_id = Some(o);
            ctx.state.store.query(&q)?
        }
    } else {
        ctx.state.store.query(&q)?
    };
    page.items.iter_mut().for_each(|d| d.cda = None);
    Ok(ctx.render(
        200,
        "search.html",
        &t(ctx.req.lang, "search"),
        context! { f, results => page.items, total => page.total, error },
    ))
}

/// The display form, sanitized: only structural and text markup survives; scripts, styles,
/// event handlers, links and anything that loads are removed.
pub fn sanitize_display(xhtml: &str) -> String {
    let tags: std::collections::HashSet<&str> = [
        "div",
        "p",
        "span",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "br",
        "b",
        "i",
        "u",
        "strong",
        "em",
        "dl",
        "dt",
        "dd",
        "caption",
        "hr",
        "pre",
        "code",
        "sub",
        "sup",
        "small",
        "blockquote",
    ]
    .into_iter()
    .collect();
    ammonia::Builder::default()
        .tags(tags)
        .generic_attributes(
            ["class", "colspan", "rowspan", "title"]
                .into_iter()
                .collect(),
        )
        .url_schemes(std::collections::HashSet::new())
        .link_rel(None)
        .clean_content_tags(
            [
                "script", "style", "iframe", "object", "embed", "template", "svg", "math",
            ]
            .into_iter()
            .collect(),
        )
        .clean(xhtml)
        .to_string()
}

fn display_and_json(cda: &[u8]) -> (String, String, Option<crate::document::ParsedCda<'static>>) {
    let Ok(text) = std::str::from_utf8(cda) else {
        return (String::new(), String::new(), None);
    };
    let Ok(doc) = crate::xml::parse(text, &crate::xml::Limits::default()) else {
        return (String::new(), String::new(), None);
    };
    let parsed = crate::document::parse_document(&doc);
    let b64 = |s: &str| {
        crate::xml::decode_base64(std::iter::once(s))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let body = parsed.as_ref().and_then(|p| p.body.clone());
    let display = body
        .as_ref()
        .and_then(|b| b.display.as_ref())
        .and_then(|d| b64(&d.value.base64))
        .map(|x| sanitize_display(&x))
        .unwrap_or_default();
    let json = body
        .as_ref()
        .and_then(|b| b.structured.as_ref())
        .and_then(|j| b64(&j.value.base64))
        .map(|j| {
            serde_json::from_str::<serde_json::Value>(&j)
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or(j.clone()))
                .unwrap_or(j)
        })
        .unwrap_or_default();
    (
        display,
        json,
        parsed.map(crate::document::ParsedCda::into_owned),
    )
}

fn meta_rows(
    m: &DocumentMeta,
    parsed: Option<&crate::document::ParsedCda<'_>>,
    register: &crate::identity::SoteRegister,
    code_lists: &crate::rules::codes::CodeLists,
) -> Vec<(String, String)> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let org_named = |oid: &str| {
        register
            .resolve(oid)
            .map_or_else(|| oid.to_owned(), |o| format!("{oid} {}", o.name))
    };
    // Codes with their names from the code-list snapshot, so the page reads as text.
    let named = |v: &Option<String>, system: &str| {
        v.as_ref()
            .map_or_else(String::new, |c| match code_lists.display_name(system, c) {
                Some(n) => format!("{c} {n}"),
                None => c.clone(),
            })
    };
    use crate::document::model::code_systems as cs;
    let mut rows = vec![
        ("document OID".to_owned(), m.document_oid.clone()),
        ("setId".into(), m.set_id.clone()),
        ("version".into(), m.version.to_string()),
        ("status".into(), m.status.as_str().into()),
        (
            "title".into(),
            parsed
                .and_then(|p| p.title.as_ref())
                .map(|t| t.value.clone())
                .unwrap_or_default(),
        ),
        ("client".into(), m.client_id.clone()),
        ("effectiveTime".into(), o(&m.effective_time)),
        (
            "documentGroup".into(),
            named(&m.document_group, cs::DOCUMENT_GROUP),
        ),
        (
            "specificDocumentType".into(),
            named(&m.document_type, cs::DOCUMENT_TYPE),
        ),
        ("custodian".into(), org_named(&m.custodian)),
        ("producer".into(), org_named(&m.producer)),
        ("register owner".into(), org_named(&m.register_owner)),
        ("organiser".into(), o(&m.organiser)),
        ("registryType".into(), named(&m.register, cs::REGISTER)),
        ("case".into(), o(&m.case_id)),
        ("client relationship".into(), o(&m.client_relationship)),
        (
            "author".into(),
            parsed
                .and_then(|p| p.author.as_ref())
                .and_then(|a| a.value.extension.clone())
                .unwrap_or_default(),
        ),
        ("replaces".into(), o(&m.replaces)),
        ("reasonOfCorrection".into(), o(&m.reason_of_correction)),
        ("archived".into(), m.archived_at.clone()),
        ("status changed".into(), o(&m.status_changed_at)),
        ("invalidation reason".into(), o(&m.invalidation_reason)),
        (
            "message".into(),
            format!("{} / {}", m.message.0, m.message.1),
        ),
    ];
    rows.retain(|(_, v)| !v.is_empty());
    rows
}

fn document(
    ctx: &Ctx<'_>,
    message: Option<(bool, String, Vec<crate::finding::Finding>)>,
) -> Result<Reply, StoreError> {
    let oid = ctx
        .req
        .query
        .get("oid")
        .or_else(|| ctx.req.form.get("oid"))
        .cloned()
        .unwrap_or_default();
    let Some(m) = ctx.visible(&oid)? else {
        return Ok(not_found(
            ctx,
            &format!("{oid}: {}", t(ctx.req.lang, "none")),
        ));
    };
    let cda = m.cda.clone().unwrap_or_default();
    let (display, json, parsed) = display_and_json(&cda);
    let signatures: Vec<Value> = std::str::from_utf8(&cda)
        .ok()
        .and_then(|text| crate::xmldsig::verify_document(text, &crate::document::kanta_verify_options(Some(&ctx.state.trust))).ok())
        .map(|r| {
            r.signatures
                .iter()
                .map(|s| context! {
                    number => s.number,
                    signer => s.signer.as_ref().map(|c| c.subject.clone()).unwrap_or_default(),
                    time => s.signing_time.clone().unwrap_or_default(),
                    kind => match s.signature_type.as_deref() { Some("1") => "1 professional", Some("3") => "3 system", _ => "?" },
                    valid => s.is_valid(),
                    codes => crate::finding::RuleId::join(&s.problems.iter().map(|p| p.code()).collect::<Vec<_>>()),
                })
                .collect()
        })
        .unwrap_or_default();
    let versions = ctx.state.store.query(&DocumentQuery {
        registers: vec![m.register_owner.clone()],
        set_id: Some(m.set_id.clone()),
        statuses: vec![
            DocStatus::Active,
            DocStatus::Replaced,
            DocStatus::Invalidated,
        ],
        limit: 100,
        ..DocumentQuery::default()
    })?;
    let events = ctx.state.store.history(&m.set_id)?;
    let (message_ok, message, findings) = message
        .map_or((false, String::new(), Vec::new()), |(ok, msg, f)| {
            (ok, msg, f)
        });
    let mut doc = m.clone();
    doc.cda = None;
    Ok(ctx.render(200, "document.html", &format!("{} {}", t(ctx.req.lang, "document"), m.document_oid), context! {
        doc,
        meta => meta_rows(&m, parsed.as_ref(), &ctx.state.register, &ctx.state.code_lists),
        display,
        json,
        signatures,
        versions => versions.items.into_iter().map(|mut v| { v.cda = None; v }).collect::<Vec<_>>(),
        events,
        message,
        message_ok,
        findings,
    }))
}

fn compare(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let get = |k: &str| ctx.req.query.get(k).cloned().unwrap_or_default();
    let (Some(a), Some(b)) = (ctx.visible(&get("a"))?, ctx.visible(&get("b"))?) else {
        return Ok(not_found(ctx, "a / b"));
    };
    let (da, _, pa) = display_and_json(a.cda.as_deref().unwrap_or_default());
    let (db, _, pb) = display_and_json(b.cda.as_deref().unwrap_or_default());
    let ra = meta_rows(&a, pa.as_ref(), &ctx.state.register, &ctx.state.code_lists);
    let rb = meta_rows(&b, pb.as_ref(), &ctx.state.register, &ctx.state.code_lists);
    let mut keys: Vec<String> = ra.iter().map(|(k, _)| k.clone()).collect();
    for (k, _) in &rb {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let val = |rows: &[(String, String)], k: &str| {
        rows.iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let rows: Vec<(String, String, String)> = keys
        .iter()
        .map(|k| (k.clone(), val(&ra, k), val(&rb, k)))
        .collect();
    let (mut a, mut b) = (a, b);
    a.cda = None;
    b.cda = None;
    Ok(ctx.render(
        200,
        "compare.html",
        &t(ctx.req.lang, "compare"),
        context! { a, b, rows, display_a => da, display_b => db },
    ))
}

fn invalidate(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let oid = ctx.req.form.get("oid").cloned().unwrap_or_default();
    let reason = ctx.req.form.get("reason").cloned().unwrap_or_default();
    // Not visible is answered as unknown, exactly as the message interface does.
    if ctx.visible(&oid)?.is_none() {
        let f = vec![crate::finding::Finding::new(
            RuleId::L020,
            "form oid",
            format!("no archived document {oid}"),
        )];
        return Ok(ctx.render(
            422,
            "result.html",
            &t(ctx.req.lang, "refused"),
            context! { ok => false, message => t(ctx.req.lang, "refused"), findings => f, oid },
        ));
    }
    let result = ctx.state.store.invalidate(
        &Invalidation {
            document_oid: &oid,
            reason: Some(&reason),
            actor: Actor::Archivist(&ctx.org),
            reason_required: ctx.state.reason_required,
            message: None,
            exchange: None,
        },
        time::OffsetDateTime::now_utc(),
    );
    match result {
        Ok(_) => document(
            ctx,
            Some((true, t(ctx.req.lang, "invalidated_ok"), Vec::new())),
        ),
        Err(StoreError::Refused(findings)) => Ok(ctx.render(
            422,
            "result.html",
            &t(ctx.req.lang, "refused"),
            context! { ok => false, message => t(ctx.req.lang, "refused"), findings, oid },
        )),
        Err(e) => Err(e),
    }
}

fn deployment_docs(ctx: &Ctx<'_>) -> Result<(crate::deployment::ChecklistA, String), StoreError> {
    let case = &ctx.state.deployment_case;
    let person = ctx
        .req
        .query
        .get("person")
        .filter(|p| !p.is_empty())
        .cloned()
        .or_else(|| case.persons.first().cloned())
        .unwrap_or_default();
    let all: Vec<String> = ctx
        .state
        .register
        .organisations()
        .iter()
        .map(|o| o.oid.clone())
        .collect();
    Ok((
        checklist_a(case, &ctx.org, Some(&person), &all, &ctx.state.store)?,
        person,
    ))
}

fn deployment(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let (a, person) = deployment_docs(ctx)?;
    let found: Vec<DocumentMeta> = a
        .documents
        .iter()
        .flat_map(|d| d.found.first().cloned())
        .collect();
    let mut error = None;
    let (recorded_text, b) = match ctx.req.form.get("recorded") {
        Some(text) => match toml::from_str::<Recorded>(text) {
            Ok(rec) => (
                text.clone(),
                Some(checklist_b(&rec, &ctx.org, &ctx.state.store)?),
            ),
            Err(e) => {
                error = Some(format!("TOML: {e}"));
                (text.clone(), None)
            }
        },
        // The client system's own export when there is one (a difference is what (b) is
        // for); otherwise the archive's data, as a starting point to edit.
        None => match ctx
            .state
            .client_system_export
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        {
            Some(text) => match toml::from_str::<Recorded>(&text) {
                Ok(rec) => {
                    let b = checklist_b(&rec, &ctx.org, &ctx.state.store)?;
                    (text, Some(b))
                }
                Err(e) => {
                    error = Some(format!("TOML: {e}"));
                    (text, None)
                }
            },
            None => (
                toml::to_string(&recorded_from(&found)).unwrap_or_default(),
                None,
            ),
        },
    };
    let case = &ctx.state.deployment_case;
    let mut a_view = a.clone();
    a_view
        .documents
        .iter_mut()
        .for_each(|d| d.found.iter_mut().for_each(|m| m.cda = None));
    Ok(ctx.render(200, "deployment.html", &t(ctx.req.lang, "deployment"), context! {
        case => context! { id => case.id.clone(), title => if ctx.req.lang == Lang::Fi { case.title_fi.clone() } else { case.title_en.clone() } },
        person,
        a => a_view,
        a_passed => a.passed(),
        b_passed => b.as_ref().is_some_and(|b| b.passed()),
        b,
        recorded => recorded_text,
        error,
    }))
}

fn report(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let (a, person) = deployment_docs(ctx)?;
    let get = |k: &str| ctx.req.query.get(k).cloned().unwrap_or_default();
    let latest = a
        .documents
        .iter()
        .flat_map(|d| d.found.first())
        .map(|m| m.archived_at.clone())
        .max()
        .unwrap_or_default();
    let completed = if get("completed").is_empty() {
        latest.get(..16).unwrap_or("").replace('T', " ")
    } else {
        get("completed")
    };
    let completed_date = time::Date::parse(
        completed.get(..10).unwrap_or(""),
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap_or_else(|_| time::OffsetDateTime::now_utc().date());
    let count_saturdays =
        ctx.req.query.contains_key("count_saturdays") || ctx.state.count_saturdays;
    let due = report_due(completed_date, count_saturdays);
    let submitted = get("submitted");
    let late = time::Date::parse(
        &submitted,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok_and(|s| s > due.due);
    let org = ctx.state.register.resolve(&ctx.org);
    let case = &ctx.state.deployment_case;
    let lang = ctx.req.lang;
    // Under a register use right the report names both parties: the producer that ran the
    // test and the organiser whose register holds the documents.
    let organiser_oid = case.steps.iter().find_map(|s| s.organiser.clone());
    let party = |oid: &str| {
        let o = ctx.state.register.resolve(oid);
        context! {
            oid => oid.to_owned(),
            name => o.map(|o| if lang == Lang::Sv { o.name_sv.clone().unwrap_or_else(|| o.name.clone()) } else { o.name.clone() }).unwrap_or_default(),
            ytunnus => o.map(|o| o.ytunnus.to_string()).unwrap_or_default(),
        }
    };
    let (producer, organiser) = match &organiser_oid {
        Some(g) => (Some(party(&ctx.org)), Some(party(g))),
        None => (None, None),
    };
    Ok(ctx.render(200, "report.html", &t(ctx.req.lang, "report"), context! {
        disclaimer => crate::cases::disclaimer(lang),
        producer,
        organiser,
        controller => organiser_oid.clone().unwrap_or_else(|| ctx.org.clone()),
        ytunnus => org.map(|o| o.ytunnus.to_string()).unwrap_or_default(),
        units => org.map(|o| o.units.iter().map(|u| context! { name => u.name.clone(), oid => u.oid.clone() }).collect::<Vec<_>>()).unwrap_or_default(),
        case => context! { id => case.id.clone(), title => case.title(lang).to_owned() },
        persons => vec![person.clone()],
        person,
        oids => a.documents.iter().flat_map(|d| d.found.first().map(|m| m.document_oid.clone())).collect::<Vec<_>>(),
        a_passed => a.passed(),
        b_state => get("b"),
        due,
        late,
        r => context! {
            completed,
            submitted,
            system => get("system"),
            version => get("version"),
            connection => get("connection"),
            participants => get("participants"),
            deviations => get("deviations"),
            count_saturdays,
        },
    }))
}

fn train(ctx: &Ctx<'_>) -> Reply {
    let breaks: Vec<(&str, &str)> = crate::training::Break::ALL
        .iter()
        .map(|(_, name, what)| (*name, *what))
        .collect();
    ctx.render(200, "train.html", &t(ctx.req.lang, "train"), context! {
        intro => "The deployment test (käyttöönottokoe) in order: who does what in reality, and what to look at here. Run it with `kanta-sim train deployment-test`.",
        steps => crate::training::STEPS,
        breaks,
    })
}

/// The onboarding checklist of the organisation: each prerequisite with its state.
fn onboarding(ctx: &Ctx<'_>) -> Reply {
    use crate::lang::Tr;
    use crate::onboarding::{self as ob, State};
    let lang = ctx.req.lang;
    let readiness = ctx.state.onboarding.get(&ctx.org).cloned();
    let modelled = readiness.is_some();
    let r = readiness.unwrap_or_else(|| ob::Readiness {
        oid: ctx.org.clone(),
        customer_relationship: false,
        katso_id: None,
        service_description_accepted: false,
        administrative_data_given: false,
        technical_data_given: false,
        register_origin: None,
        certificates: vec![],
        connection_certificate: None,
        system: ob::System::NotCertified,
        valvira_notified: false,
        self_monitoring_plan_updated: false,
        data_protection_routines: false,
        national_operating_models: false,
        staff_trained: false,
        production_operating_models_agreed: false,
        preparatory_meeting_attended: false,
        deployment_test_agreed: None,
        approval_received: false,
        role: vec![],
    });
    let connection = ctx
        .state
        .kit
        .as_deref()
        .and_then(|k| ob::kit_certificate(k, &r.connection_role()));
    let items: Vec<Value> = ob::assess(
        &r,
        &ctx.state.register,
        connection.as_ref(),
        time::OffsetDateTime::now_utc(),
        lang,
    )
    .into_iter()
    .map(|a| {
        let state_text = match a.state {
            State::Done => Tr { fi: "valmis", sv: "klart", en: "done" },
            State::InProgress => Tr { fi: "kesken", sv: "pågår", en: "in progress" },
            State::Missing => Tr { fi: "puuttuu", sv: "saknas", en: "missing" },
        }
        .get(lang);
        context! {
            key => a.step.key,
            title => a.step.title.get(lang),
            reality => a.step.reality.get(lang),
            state => match a.state { State::Done => "passed", State::InProgress => "timed-out", State::Missing => "failed" },
            state_text,
            found => a.found,
            who => a.step.responsible.iter().map(|p| p.name(lang)).collect::<Vec<_>>().join(", "),
            blocks => a.step.blocks.get(lang),
            time => a.step.time.get(lang),
            sources => ob::sources(a.step).join("; "),
        }
    })
    .collect();
    let h = |fi: &'static str, sv: &'static str, en: &'static str| Tr { fi, sv, en }.get(lang);
    let breaks: Vec<(&str, &str)> = ob::Break::ALL
        .iter()
        .map(|(_, name, item)| (*name, ob::step(*item).title.get(lang)))
        .collect();
    ctx.render(200, "onboarding.html", &t(lang, "onboarding"), context! {
        intro => h(
            "Tie tuotantoon ennen käyttöönottokoetta: jokainen edellytys, kuka siitä vastaa, mitä sen puuttuminen estää ja mikä sivu sen kertoo. Koko käyttöönotto kestää noin 6 kuukautta, sertifioitaessa noin vuoden.",
            "Vägen till produktion före ibruktagningsprovet: varje förutsättning, vem som ansvarar, vad den blockerar och vilken sida som säger det. Hela införandet tar cirka 6 månader, omkring ett år med certifiering.",
            "The road to production before the deployment test: each prerequisite, who is responsible, what a missing one blocks, and which page says so. The whole road takes about 6 months, about a year when the system is certified on the way.",
        ),
        modelled,
        not_modelled => h(
            "Organisaatiolle ei ole perehdytystietoja (onboarding.file): kaikki näkyy puuttuvana.",
            "Organisationen har inga införandeuppgifter (onboarding.file): allt visas som saknat.",
            "The organisation has no readiness data (onboarding.file): everything shows as missing.",
        ),
        items,
        breaks,
        h => context! {
            item => h("Edellytys", "Förutsättning", "Prerequisite"),
            state => h("Tila", "Status", "State"),
            found => h("Havaittu", "Funnet", "Found"),
            who => h("Vastuu", "Ansvar", "Responsible"),
            blocks => h("Puuttuessa estää", "Om den saknas blockeras", "Missing, it blocks"),
            time => h("Kesto", "Tid", "Time"),
            source => h("Lähde", "Källa", "Source"),
            breaks => h("Harjoittele viivästystä", "Öva en försening", "Rehearse a slip"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_form_loses_everything_active() {
        let hostile = r#"<div class="soc-document" onclick="x()"><p>Teksti <b>lihava</b></p><script>alert(1)</script><img src="http://evil/x.png"><a href="javascript:alert(1)">linkki</a><style>body{}</style><iframe src="http://evil"></iframe><p style="background:url(http://evil)">t</p></div>"#;
        let clean = sanitize_display(hostile);
        for gone in [
            "script",
            "alert",
            "onclick",
            "img",
            "http://evil",
            "javascript:",
            "iframe",
            "style",
            "<a",
        ] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(
            clean.contains("<b>lihava</b>")
                && clean.contains("linkki")
                && clean.contains("class=\"soc-document\""),
            "{clean}"
        );
    }

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            env().get_template(name).unwrap();
        }
    }
}
