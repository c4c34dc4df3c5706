//! Any path the router does not know.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card empty">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. " <a href="/agents">"Go to the fleet"</a></p>
        </section>
    }
}
