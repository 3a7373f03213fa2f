//! `POST /api/estimates` (a short link) and `GET /api/estimates/{id}`.

use serde_json::Value;
use shared::scenario::Scenario;

/// The id in the answer to a POST: `{ "id": ... }` (or `short_id`), or a bare string.
/// A stored estimate: its short id and the page that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub id: String,
    pub page_url: Option<String>,
}

/// The answer to a POST: `{ "id", "page_url", ... }` (or a bare id).
pub fn parse_created(v: &Value) -> Result<Created, String> {
    let id = parse_id(v)?;
    let page_url = v
        .get("page_url")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Created { id, page_url })
}

fn parse_id(v: &Value) -> Result<String, String> {
    v.get("id")
        .or_else(|| v.get("short_id"))
        .or_else(|| v.get("short"))
        .unwrap_or(v)
        .as_str()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "the backend's answer has no id".to_string())
}

/// The scenario of a stored estimate: `{ "scenario": ... }` or the scenario itself.
pub fn parse_stored(v: &Value) -> Result<Scenario, String> {
    let s = v.get("scenario").unwrap_or(v);
    shared::estimate::parse_scenario(&s.to_string()).map_err(|e| e.to_string())
}

/// A stored link as the page uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub scenario: Scenario,
    /// `StoredEstimate::profile_verified`: false when a measured profile the
    /// link pins is not one the server made under its label (or it could
    /// not check). None when the answer does not say.
    pub profile_verified: Option<bool>,
}

/// `GET /api/estimates/{id}`'s answer (`shared::api::StoredEstimate`); its
/// scenario is kept as stored, so it is read by the core's own parser.
pub fn parse_stored_link(v: &Value) -> Result<Stored, String> {
    Ok(Stored {
        scenario: parse_stored(v)?,
        profile_verified: v.get("profile_verified").and_then(Value::as_bool),
    })
}

pub async fn create(s: &Scenario) -> Result<Created, String> {
    let r = gloo_net::http::Request::post(&format!("{}/estimates", super::API))
        .json(s)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("no backend ({e})"))?;
    if !r.ok() {
        let body = r.text().await.unwrap_or_default();
        return Err(format!(
            "the backend answered {}: {}",
            r.status(),
            body.chars().take(200).collect::<String>()
        ));
    }
    let v: Value = r.json().await.map_err(|e| format!("not JSON ({e})"))?;
    parse_created(&v)
}

pub async fn get(id: &str) -> Result<Stored, String> {
    let r = gloo_net::http::Request::get(&format!("{}/estimates/{id}", super::API))
        .send()
        .await
        .map_err(|e| format!("no backend ({e})"))?;
    if r.status() == 404 {
        return Err("no estimate with this short link (it may have expired)".into());
    }
    if !r.ok() {
        return Err(format!("the backend answered {}", r.status()));
    }
    let v: Value = r.json().await.map_err(|e| format!("not JSON ({e})"))?;
    parse_stored_link(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_and_stored() {
        assert_eq!(
            parse_created(&serde_json::json!({"id": "abc", "page_url": "http://h/?estimate=abc"})),
            Ok(Created {
                id: "abc".into(),
                page_url: Some("http://h/?estimate=abc".into())
            })
        );
        assert!(parse_created(&serde_json::json!({"id": ""})).is_err());
        let s = crate::defaults::example_scenario();
        let v = serde_json::json!({ "id": "x", "scenario": s });
        assert_eq!(parse_stored(&v), Ok(s.clone()));
        assert_eq!(
            parse_stored(&serde_json::to_value(&s).unwrap_or_default()),
            Ok(s.clone())
        );
        let link = |verified: serde_json::Value| {
            parse_stored_link(
                &serde_json::json!({"id": "x", "scenario": s, "profile_verified": verified}),
            )
            .map(|l| l.profile_verified)
        };
        assert_eq!(link(serde_json::json!(false)), Ok(Some(false)));
        assert_eq!(link(serde_json::json!(true)), Ok(Some(true)));
        assert_eq!(link(serde_json::Value::Null), Ok(None));
    }
}
