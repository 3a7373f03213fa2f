//! Small wrappers over browser APIs (location, history, clipboard, downloads, files).

use wasm_bindgen::{JsCast, JsValue};

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// The URL fragment, with its `#` (empty when none).
pub fn hash() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The page's address without its fragment.
pub fn base_url() -> String {
    window()
        .and_then(|w| w.location().href().ok())
        .map(|h| h.split('#').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// The page's origin and path, without query or fragment.
pub fn origin_path() -> String {
    window()
        .map(|w| {
            let l = w.location();
            format!(
                "{}{}",
                l.origin().unwrap_or_default(),
                l.pathname().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// A query parameter of the page's address.
pub fn query_param(name: &str) -> Option<String> {
    let search = window().and_then(|w| w.location().search().ok())?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// Replace the fragment without a navigation or a history entry (no `hashchange`).
pub fn replace_hash(fragment: &str) {
    if let Some(h) = window().and_then(|w| w.history().ok()) {
        let url = format!("{}{}", base_url(), fragment);
        let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}

/// Copy text; false when the clipboard is not available (the text stays selectable).
pub async fn copy(text: &str) -> bool {
    let Some(w) = window() else { return false };
    let p = w.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(p).await.is_ok()
}

/// Offer text as a file download.
pub fn download(name: &str, mime: &str, text: &str) {
    let Some(doc) = window().and_then(|w| w.document()) else {
        return;
    };
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Ok(a) = doc.create_element("a") {
        if let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>() {
            a.set_href(&url);
            a.set_download(name);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// The bytes of a dropped or chosen file, read locally.
pub async fn read_file(f: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = wasm_bindgen_futures::JsFuture::from(f.array_buffer())
        .await
        .map_err(|_| "the file could not be read".to_string())?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
