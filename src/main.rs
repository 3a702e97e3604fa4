//! Entry point of the web app: mounts `App` into the page body.

fn main() {
    console_error_panic_hook::set_once();
    // The page may be drawing the advisor's first screen from its early
    // answers (`src/first_screen.js`): the app starts once that is painted.
    wasm_bindgen_futures::spawn_local(async {
        optin_app::first_screen::painted().await;
        leptos::mount::mount_to_body(optin_app::App);
    });
}
