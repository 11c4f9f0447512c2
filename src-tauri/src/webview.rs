//! The web view's settings on Linux (WebKitGTK), chosen for a window that shows only the app's
//! own pages. docs/benchmarks.md ("The app's memory and start") has the measurements.

/// Sets the environment variables WebKitGTK's JavaScript engine reads when it starts, for this
/// process and for the WebKit processes it launches (they inherit its environment). Called
/// first thing in `main`: changing the environment is only sound while no other thread exists.
pub fn prepare_environment() {
    #[cfg(target_os = "linux")]
    linux::prepare_environment();
}

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

    pub fn prepare_environment() {
        // JavaScriptCore compiles a function to machine code once it has run a little (500
        // units of its execution counter; a call counts 15, a loop iteration 1). The page's
        // start-up code runs once, so at 10000 it stays in the interpreter and the compiler
        // is not brought in at start (about 5 MB less in the web process); code that keeps
        // running, such as a render of a long list, still gets compiled during its first run.
        //
        // Not set: WEBKIT_DISABLE_DMABUF_RENDERER (9 MB less here). In upstream WebKitGTK 2.50
        // it leaves the web view without any way to show compositing layers, and a page that
        // enters compositing then crashes the app; the policy `tune` sets comes only after the
        // window exists.
        set_default("JSC_thresholdForJITAfterWarmUp", "10000");
        set_default("JSC_thresholdForJITSoon", "10000");
    }

    /// Sets `name` to `value` unless the user has set it.
    #[allow(unsafe_code)]
    fn set_default(name: &str, value: &str) {
        if std::env::var_os(name).is_none() {
            // SAFETY: `prepare_environment` runs first thing in `main`, before GTK, WebKit,
            // Tauri or anything else has started a thread, so nothing reads the environment
            // meanwhile.
            unsafe { std::env::set_var(name, value) };
        }
    }

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
