//! `cloudwatch_dashboard.*`: the dashboards of the spec's `cloudwatch.dashboards`.
//!
//! The body is rendered from the spec's `template` (tera, with the spec context) and diffed as
//! JSON, not text. Its `widgets` list becomes the attribute `widgets`, keyed by widget title,
//! so that the plan names the widget that changed (`widgets.PHI Entities Detected and
//! Masked.properties.stacked`, or just `widgets.<title>` for a widget added or removed); the
//! other top-level keys of the body go to `options` ([`body_to_state`], [`state_to_body`]).
//!
//! # Ownership
//! CloudWatch cannot tag dashboards (TagResource takes alarms, Contributor Insights rules and
//! metric streams only), and a body may not carry extra top-level keys for a marker. So a
//! dashboard is identified by its name alone: a dashboard with the spec's name is treated as
//! ours. This is safe enough because a dashboard holds no data (PutDashboard from the spec
//! recreates it entirely) and any difference from the spec shows in the plan before apply.
//! A dashboard that left the spec is found through the state backend's inventory of what
//! novactl created (no tag to find it by), and deleted.
//!
//! # Templates and other kinds
//! The template may use any context value. A template that names a resource of a kind the spec
//! does not declare must guard it (`{% if sagemaker.endpoints.x is defined %}`) or use `vars`
//! with defaults; the dashboard takes no dependency on what its template names (a dashboard only
//! names metrics, it needs nothing to exist first).

use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::name_arn;
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kind::KindInfo;
use crate::resources::kit::discover::read_found;
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::kit::refs::account;
use crate::resources::{from_desired, Ctx, Decl, DeleteTarget, Found, Observed, Owner, Reconciler};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// What the engine knows of `cloudwatch_dashboard` (see [`KindInfo`]).
pub const DASHBOARD_INFO: KindInfo =
    KindInfo::new("cloudwatch_dashboard", "cloudwatch.dashboards", |s, n| {
        s.cloudwatch.dashboards.get(n).and_then(|r| r.protect)
    })
    .outputs_under_section();

/// Every AWS call the dashboard kind makes and what IAM must allow (see
/// [`crate::permissions`]). Dashboard ARNs have no region.
pub const DASHBOARD_PERMISSIONS: &[Perm] = &[
    perm(
        "cloudwatch:GetDashboard",
        &["cloudwatch:GetDashboard"],
        &[DASHBOARD],
    ),
    perm(
        "cloudwatch:PutDashboard",
        &["cloudwatch:PutDashboard"],
        &[DASHBOARD],
    ),
    perm(
        "cloudwatch:DeleteDashboards",
        &["cloudwatch:DeleteDashboards"],
        &[DASHBOARD],
    ),
];
const DASHBOARD: &str = "arn:aws:cloudwatch::{account}:dashboard/{id}";

pub struct Dashboard;

/// A dashboard's attributes, desired and observed: its body as [`body_to_state`] splits it.
#[derive(Serialize, Deserialize)]
pub struct DashboardState {
    pub name: String,
    /// Widgets keyed by title, in the body's order.
    pub widgets: Value,
    /// The body's other top-level keys.
    pub options: Value,
}

impl DashboardState {
    fn of_body(name: &str, body: &Value) -> DashboardState {
        let (widgets, options) = body_to_state(body);
        DashboardState {
            name: name.to_string(),
            widgets,
            options,
        }
    }
}

/// A dashboard body as attributes: `widgets` keyed by title (the rest in `options`), so that the
/// plan names the widget that changed. A widget without a title is keyed `<type>@<index>`; a
/// repeated key gets ` #2`, ` #3`... Widget order is the map's order (the template's).
pub fn body_to_state(body: &Value) -> (Value, Value) {
    let mut widgets = Map::new();
    let mut options = Map::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if k == "widgets" {
                for (i, w) in v.as_array().into_iter().flatten().enumerate() {
                    let base = widget_key(i, w);
                    let mut key = base.clone();
                    let mut n = 1;
                    while widgets.contains_key(&key) {
                        n += 1;
                        key = format!("{base} #{n}");
                    }
                    widgets.insert(key, w.clone());
                }
            } else {
                options.insert(k.clone(), v.clone());
            }
        }
    }
    (Value::Object(widgets), Value::Object(options))
}

fn widget_key(i: usize, w: &Value) -> String {
    let key = match w["properties"]["title"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => format!("{}@{i}", w["type"].as_str().unwrap_or("widget")),
    };
    // `.` separates attribute path segments in the plan.
    key.replace('.', "_")
}

/// The inverse of [`body_to_state`].
pub fn state_to_body(widgets: &Value, options: &Value) -> Value {
    let mut body = options.as_object().cloned().unwrap_or_default();
    let list: Vec<Value> = widgets
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, w)| w.clone())
        .collect();
    body.insert("widgets".into(), Value::Array(list));
    Value::Object(body)
}

fn dashboard_arn(account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch::{account}:dashboard/{name}")
}

#[async_trait]
impl Reconciler for Dashboard {
    fn permissions(&self) -> &'static [&'static [Perm]] {
        &[DASHBOARD_PERMISSIONS]
    }

    fn info(&self) -> &'static KindInfo {
        &DASHBOARD_INFO
    }

    fn decls(&self, spec: &LoadedSpec, r: &Renderer) -> Result<Vec<Decl>, SpecError> {
        let mut out = Vec::new();
        for (name, d) in &spec.spec.cloudwatch.dashboards {
            let path = format!("cloudwatch.dashboards.{name}");
            let dash = r.str(&format!("{path}.name"), &d.name)?;
            let valid = !dash.is_empty()
                && dash.len() <= 255
                && dash
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(spec.error(
                    &format!("{path}.name"),
                    format!(
                        "`{dash}` is not a valid dashboard name: 1 to 255 letters, digits, `-` or `_`"
                    ),
                ));
            }
            out.push(Decl {
                address: format!("cloudwatch_dashboard.{name}"),
                kind: "cloudwatch_dashboard",
                name: name.clone(),
                spec_path: path.clone(),
                region: spec.spec.region.clone(),
                identity: dash.clone(),
                identity_key: format!("{path}.name"),
                deps: Vec::new(),
                outputs: name_arn(&dash, &dashboard_arn(&account(r), &dash)),
                template_files: vec![spec.template_path(&d.template)],
            });
        }
        Ok(out)
    }

    fn desired(&self, spec: &LoadedSpec, decl: &Decl, r: &Renderer) -> Result<Value, SpecError> {
        let d = &spec.spec.cloudwatch.dashboards[&decl.name];
        let key = format!("{}.template", decl.spec_path);
        let body = r.json_file(&key, &d.template)?;
        if !body.get("widgets").is_some_and(Value::is_array) {
            return Err(spec.error(
                &key,
                "the dashboard body must be a JSON object with a `widgets` list",
            ));
        }
        let state = DashboardState::of_body(&decl.identity, &body);
        Ok(serde_json::to_value(&state).unwrap_or_default())
    }

    async fn observe(&self, cx: &Ctx<'_>, decl: &Decl) -> Result<Observed, AwsError> {
        Ok(
            read_dashboard(cx, &decl.region, &decl.address, &decl.identity)
                .await?
                .unwrap_or_else(|| Observed::absent(&decl.address)),
        )
    }

    /// Dashboards carry no tags, so the tagging API cannot find them: the ones that left the
    /// spec are those the state inventory says novactl created (the inventory is the proof
    /// they are ours).
    async fn discover_found(
        &self,
        cx: &Ctx<'_>,
        region: &str,
        found: Vec<Found>,
    ) -> Result<Vec<Observed>, AwsError> {
        read_found(
            cx,
            DASHBOARD_INFO.kind,
            region,
            found,
            &[],
            |f| async move { read_dashboard(cx, region, &f.address, f.name()).await },
        )
        .await
    }

    /// The dashboard's body goes to a template file (`--write`); JSON needs no escaping for
    /// tera unless it holds `{{` or `{%`, which the file then keeps inside a raw block.
    async fn import(&self, cx: &Ctx<'_>, req: &ImportRequest<'_>) -> Result<Imported, AwsError> {
        let cw = &cx.clients(req.region).cloudwatch;
        let out = match cw.get_dashboard().dashboard_name(req.id).send().await {
            Ok(o) => o,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_dashboard_not_found_error()) =>
            {
                return Err(import::not_found("dashboard", req.id))
            }
            Err(e) => return Err(AwsError::from_err("cloudwatch:GetDashboard", e)),
        };
        let body: Value = out
            .dashboard_body()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let text = import::template_text(&body);
        let name = import::logical_name(req.id);
        let mut entry = serde_json::Map::new();
        entry.insert("name".into(), Value::String(req.id.to_string()));
        Ok(Imported {
            files: vec![(
                "template".into(),
                format!("dashboard-{name}.json.tera"),
                text,
            )],
            name,
            entry,
            comments: Vec::new(),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<Value, AwsError> {
        put_dashboard(cx, decl, desired).await?;
        crate::faults::point("cloudwatch.after_put_dashboard", &decl.address)?;
        Ok(name_arn(
            &decl.identity,
            &dashboard_arn(cx.account_id, &decl.identity),
        ))
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        decl: &Decl,
        desired: &Value,
        observed: &Observed,
        _changed: &[String],
    ) -> Result<Value, AwsError> {
        // PutDashboard replaces the whole body.
        put_dashboard(cx, decl, desired).await?;
        Ok(observed.outputs.clone())
    }

    async fn delete(&self, cx: &Ctx<'_>, t: &DeleteTarget<'_>) -> Result<(), AwsError> {
        let cw = &cx.clients(t.region).cloudwatch;
        match cw
            .delete_dashboards()
            .dashboard_names(&t.observed.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // DeleteDashboardsError models no not-found variant; AWS answers a missing
            // dashboard with the query-compatible code `ResourceNotFound` (DashboardNotFoundError).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.code() == Some("ResourceNotFound")) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::from_err("cloudwatch:DeleteDashboards", e)),
        }
    }
}

/// The dashboard `name` as `address` sees it; `None` when there is none.
async fn read_dashboard(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    name: &str,
) -> Result<Option<Observed>, AwsError> {
    let cw = &cx.clients(region).cloudwatch;
    let out = match cw.get_dashboard().dashboard_name(name).send().await {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_dashboard_not_found_error()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_err("cloudwatch:GetDashboard", e)),
    };
    let body: Value = out
        .dashboard_body()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let state = DashboardState::of_body(out.dashboard_name().unwrap_or(name), &body);
    let arn = out
        .dashboard_arn()
        .map(str::to_string)
        .unwrap_or_else(|| dashboard_arn(cx.account_id, name));
    Ok(Some(Observed {
        address: address.to_string(),
        physical_id: name.to_string(),
        state: Some(serde_json::to_value(&state).unwrap_or_default()),
        // See "Ownership" above: dashboards cannot carry tags.
        owner: Owner::Ours,
        outputs: name_arn(name, &arn),
    }))
}

async fn put_dashboard(cx: &Ctx<'_>, decl: &Decl, desired: &Value) -> Result<(), AwsError> {
    let d: DashboardState = from_desired(&decl.address, desired)?;
    let body = state_to_body(&d.widgets, &d.options);
    let out = cx
        .clients(&decl.region)
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&decl.identity)
        .dashboard_body(body.to_string())
        .send()
        .await
        .map_err(AwsError::from_sdk("cloudwatch:PutDashboard"))?;
    if let Some(msgs) = out.dashboard_validation_messages.filter(|m| !m.is_empty()) {
        let text: Vec<String> = msgs
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    m.data_path().unwrap_or("body"),
                    m.message().unwrap_or_default()
                )
            })
            .collect();
        tracing::warn!(dashboard = %decl.identity, "dashboard validation: {}", text.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_round_trips_through_state() {
        let body = json!({"start": "-PT6H", "widgets": [
            {"type": "metric", "properties": {"title": "A.b"}},
            {"type": "text", "properties": {"markdown": "x"}},
        ]});
        let (w, o) = body_to_state(&body);
        assert_eq!(
            w.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["A_b", "text@1"]
        );
        assert_eq!(o, json!({"start": "-PT6H"}));
        assert_eq!(state_to_body(&w, &o), body);
    }

    #[test]
    fn removed_widget_is_named_in_the_diff() {
        let body = json!({"widgets": [
            {"type": "metric", "properties": {"title": "One"}},
            {"type": "metric", "properties": {"title": "Two"}},
        ]});
        let (w, o) = body_to_state(&body);
        let desired = json!({"widgets": w, "options": o});
        let live_body = json!({"widgets": [{"type": "metric", "properties": {"title": "One"}}]});
        let (lw, lo) = body_to_state(&live_body);
        let live = json!({"widgets": lw, "options": lo});
        let paths: Vec<String> = crate::plan::diff::changes(&live, &desired, &[])
            .into_iter()
            .map(|c| c.path)
            .collect();
        assert_eq!(paths, vec!["widgets.Two"]);
    }
}
