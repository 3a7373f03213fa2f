//! `GET /api/openapi.json`: the OpenAPI document, generated from the handlers'
//! annotations (a test keeps `docs/openapi.json` equal to it).

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `jouleprint token create --name HOST`"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jouleprint API",
        description = "Devices and their measured profiles, calibration runs, measured runs of users' jobs and the accuracy they show, estimates and shared estimates. \
                       Bodies are the types of `shared::api`. Errors are JSON {\"code\", \"message\", \"field\"?, \"errors\"?}. See docs/api.md."
    ),
    paths(
        super::health::health,
        super::devices::list,
        super::devices::get,
        super::devices::calibrations,
        super::calibrations::submit,
        super::runs::submit,
        super::runs::list,
        super::runs::accuracy,
        super::estimate::estimate,
        super::estimates::create,
        super::estimates::get,
        document,
    ),
    // Every body type of `shared::api`; the types they contain are pulled in with them.
    components(schemas(
        shared::api::ErrorBody,
        shared::api::Health,
        shared::api::DeviceList,
        shared::api::DeviceView,
        shared::api::RunList,
        shared::api::SubmitResponse,
        shared::api::StoredEstimate,
        shared::api::Scenario,
        shared::api::Estimate,
        shared::api::CalibrationRecord,
        shared::api::RunSubmission,
        shared::api::RunReceipt,
        shared::api::MeasuredRunList,
        shared::api::AccuracyReport,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// The document as pretty JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}
