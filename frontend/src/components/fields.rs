//! Labelled inputs with their validation message next to them.

use super::use_app;
use crate::state::{Action, Field};
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct InputProps {
    pub field: Field,
    pub label: AttrValue,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    /// `decimal` for numbers, `text` otherwise.
    #[prop_or(AttrValue::Static("decimal"))]
    pub inputmode: AttrValue,
    #[prop_or_default]
    pub placeholder: Option<AttrValue>,
    #[prop_or_default]
    pub list: Option<AttrValue>,
}

fn describe(id: &str, err: bool, hint: bool, pending: bool) -> Option<String> {
    let mut v = Vec::new();
    if hint {
        v.push(format!("{id}-hint"));
    }
    if pending {
        v.push(format!("{id}-pending"));
    }
    if err {
        v.push(format!("{id}-err"));
    }
    (!v.is_empty()).then(|| v.join(" "))
}

/// The hint, what the field waits for, and the error under a field.
fn notes(
    id: &str,
    hint: &Option<AttrValue>,
    pending: &Option<String>,
    err: &Option<String>,
) -> Html {
    html! {
        <>
            if let Some(h) = hint { <p class="hint" id={format!("{id}-hint")}>{ h.clone() }</p> }
            if let Some(p) = pending { <p class="hint pending" id={format!("{id}-pending")} role="status">{ p.clone() }</p> }
            if let Some(e) = err { <p class="error" id={format!("{id}-err")}>{ e.clone() }</p> }
        </>
    }
}

#[component(TextInput)]
pub fn text_input(p: &InputProps) -> Html {
    let app = use_app();
    let id = p.field.dom_id();
    let err = app.error(p.field);
    let pending = app.pending(p.field);
    let f = p.field;
    let oninput = {
        let app = app.clone();
        Callback::from(move |e: InputEvent| {
            let el: HtmlInputElement = e.target_unchecked_into();
            app.dispatch(Action::Set(f, el.value()));
        })
    };
    html! {
        <div class={classes!("field", err.is_some().then_some("invalid"))}>
            <label for={id.clone()}>{ p.label.clone() }</label>
            <input id={id.clone()} name={id.clone()} type="text" inputmode={p.inputmode.clone()}
                autocomplete="off" spellcheck="false"
                placeholder={p.placeholder.clone()} list={p.list.clone()}
                value={app.value(p.field)} {oninput}
                aria-invalid={err.is_some().then_some("true")}
                aria-describedby={describe(&id, err.is_some(), p.hint.is_some(), pending.is_some())} />
            { notes(&id, &p.hint, &pending, &err) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct SelectProps {
    pub field: Field,
    pub label: AttrValue,
    /// (value, label) pairs.
    pub options: Rc<Vec<(String, String)>>,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    /// A row of its own (long option labels).
    #[prop_or_default]
    pub wide: bool,
}

#[component(SelectInput)]
pub fn select_input(p: &SelectProps) -> Html {
    let app = use_app();
    let id = p.field.dom_id();
    let err = app.error(p.field);
    let f = p.field;
    let value = app.value(f);
    let onchange = {
        let app = app.clone();
        Callback::from(move |e: Event| {
            let el: HtmlSelectElement = e.target_unchecked_into();
            app.dispatch(Action::Set(f, el.value()));
        })
    };
    html! {
        <div class={classes!("field", p.wide.then_some("wide"), err.is_some().then_some("invalid"))}>
            <label for={id.clone()}>{ p.label.clone() }</label>
            <select id={id.clone()} name={id.clone()} {onchange}
                aria-invalid={err.is_some().then_some("true")}
                aria-describedby={describe(&id, err.is_some(), p.hint.is_some(), false)}>
                <OptionList options={p.options.clone()} selected={value} />
            </select>
            { notes(&id, &p.hint, &None, &err) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct AreaProps {
    pub field: Field,
    pub label: AttrValue,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    #[prop_or_default]
    pub placeholder: Option<AttrValue>,
}

#[component(TextArea)]
pub fn text_area(p: &AreaProps) -> Html {
    let app = use_app();
    let id = p.field.dom_id();
    let err = app.error(p.field);
    let pending = app.pending(p.field);
    let f = p.field;
    let oninput = {
        let app = app.clone();
        Callback::from(move |e: InputEvent| {
            let el: HtmlTextAreaElement = e.target_unchecked_into();
            app.dispatch(Action::Set(f, el.value()));
        })
    };
    html! {
        <div class={classes!("field", "wide", err.is_some().then_some("invalid"))}>
            <label for={id.clone()}>{ p.label.clone() }</label>
            <textarea id={id.clone()} name={id.clone()} rows="8" spellcheck="false"
                placeholder={p.placeholder.clone()} value={app.value(p.field)} {oninput}
                aria-invalid={err.is_some().then_some("true")}
                aria-describedby={describe(&id, err.is_some(), p.hint.is_some(), pending.is_some())} />
            { notes(&id, &p.hint, &pending, &err) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct OptionListProps {
    pub options: Rc<Vec<(String, String)>>,
    pub selected: String,
}

/// The options of a select: re-rendered only when they or the choice change
/// (the region list has hundreds).
#[component(OptionList)]
pub fn option_list(p: &OptionListProps) -> Html {
    html! {
        { for p.options.iter().map(|(v, l)| html! {
            <option value={v.clone()} selected={*v == p.selected}>{ l.clone() }</option>
        }) }
    }
}
