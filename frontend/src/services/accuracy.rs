//! `GET /api/accuracy?device=ID&software=CLASS`, read as `shared::api::AccuracyReport`.

use shared::api::AccuracyReport;
use shared::scenario::SoftwareClass;

/// `device` is a catalog id: it and the class names are URL-safe as they are.
pub fn url(device: &str, software: SoftwareClass) -> String {
    format!(
        "{}/accuracy?device={device}&software={software}",
        super::API
    )
}

pub async fn fetch(device: &str, software: SoftwareClass) -> Result<AccuracyReport, String> {
    let r = gloo_net::http::Request::get(&url(device, software))
        .send()
        .await
        .map_err(|e| format!("no backend ({e})"))?;
    if !r.ok() {
        return Err(format!("the backend answered {}", r.status()));
    }
    r.json()
        .await
        .map_err(|e| format!("not the accuracy report of the API ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query() {
        assert_eq!(
            url("h100-sxm", SoftwareClass::PytorchEager),
            "/api/accuracy?device=h100-sxm&software=pytorch-eager"
        );
    }
}
