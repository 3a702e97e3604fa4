//! Entry point of the web app: mounts `App` into the page body.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(optin_app::App);
}
