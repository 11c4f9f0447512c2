//! The web view's settings on Linux (WebKitGTK), chosen for a window that shows only the app's
//! own pages. docs/benchmarks.md ("The app's memory and start") has the measurements.

/// Applies the settings to the main window's web view. Called from the setup hook, on the main
/// thread, so it runs at once, before the first page has been painted.
pub fn tune(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let _ = window.with_webview(|webview| linux::tune(&webview.inner()));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebView, WebViewExt,
    };

    pub fn tune(view: &WebView) {
        if let Some(settings) = WebViewExt::settings(view) {
            // Accelerated compositing keeps GL surfaces, a compositor thread and layer
            // buffers in the web process: 75-85 MB of the idle app under Xvfb (software GL),
            // and a slower first frame, for forms and tables that paint just as well without.
            // A window driven by WebDriver (the end-to-end tests) keeps WebKit's default:
            // WebKitWebDriver's screenshots time out when compositing is off.
            if !view.is_controlled_by_automation() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
        if let Some(context) = view.context() {
            // The app loads only its own bundled pages: WebKit's smallest caches, no
            // back/forward page cache. Nothing changes at idle; it caps growth over a session.
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }
}
